"""Synthesis: training images -> DCGAN generator -> synthetic NORMAL images (arrays and PNG)."""

from kedro.pipeline import Node, Pipeline

from .nodes import generate_synthetic_images, plot_gan_losses, train_gan


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                func=train_gan,
                inputs=["train_set", "params:raw_data.classes", "params:synthesis"],
                outputs=["normal_image_generator", "gan_history"],
                name="train_gan_node",
            ),
            Node(
                func=generate_synthetic_images,
                inputs=[
                    "normal_image_generator",
                    "train_set",
                    "params:raw_data.classes",
                    "params:synthesis",
                    "params:preprocessing.image_size",
                ],
                outputs=["synthetic_normal_set", "synthetic_normal_images"],
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
