"""The web view: a sink that keeps the newest frame and results, and the HTTP server that shows them."""
