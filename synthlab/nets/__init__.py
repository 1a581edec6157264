"""Networks: random feature nets, CPPNs, the GAN's encoder and discriminator, VGG19."""

from synthlab.nets.multiscale import RandomMultiscaleNet
from synthlab.nets.random_conv import RandomConvNet

__all__ = ["RandomConvNet", "RandomMultiscaleNet"]
