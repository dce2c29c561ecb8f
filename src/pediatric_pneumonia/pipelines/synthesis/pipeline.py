"""Synthesis: training images -> a DCGAN generator per smaller class -> synthetic images (arrays and PNG)."""

from kedro.pipeline import Node, Pipeline

from .nodes import generate_synthetic_images, plot_gan_losses, train_gan


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                func=train_gan,
                inputs=["train_set", "params:raw_data.classes", "params:synthesis"],
                outputs=["image_generators", "gan_history"],
                name="train_gan_node",
            ),
            Node(
                func=generate_synthetic_images,
                inputs=[
                    "image_generators",
                    "train_set",
                    "params:raw_data.classes",
                    "params:synthesis",
                    "params:preprocessing.image_size",
                ],
                outputs=["synthetic_set", "synthetic_images"],
                name="generate_synthetic_images_node",
            ),
            Node(
                func=plot_gan_losses,
                inputs="gan_history",
                outputs="gan_losses_plot",
                name="plot_gan_losses_node",
            ),
        ],
        tags=["training", "synthesis"],
    )
