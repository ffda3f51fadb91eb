"""The ImageNet backbone photo models stand on: EfficientNet-Lite0, built in Keras from an offline weights file."""
