"""The loop's core: a frame from a source, framed and classified by the pipeline, one result handed to the sinks."""
