"""Networks: random feature nets now; CPPNs, encoder, discriminator and VGG join them here."""

from synthlab.nets.random_conv import RandomConvNet

__all__ = ["RandomConvNet"]
