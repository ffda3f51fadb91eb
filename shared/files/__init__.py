"""Files from outside: images, photo folders, any path a user names (never hanging on a FIFO), and writes that
survive a power cut.
"""
