"""Teaching the Pi new classes from a few examples: the example store, the fit, and the web view's teacher."""
