"""What several test rooms share: fakes, stand-ins, a browser, manifests, drawn shapes."""
