"""The web view: a sink that keeps the newest frame and results, and the HTTP server that shows them.

``sink`` is what the loop hands results to; ``state`` what it keeps for the clients; ``server`` the
plumbing every request goes through; ``limits`` the defences every connection meets; ``auth`` who
may ask; ``routes`` what each path answers; ``streams`` the MJPEG and event streams; ``teach_api``
the teach panel's API, through ``state.TeachPanel`` (this room never imports teach).
"""
