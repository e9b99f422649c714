"""Infrastructure shared by every stage: argument checks, logging, atomic files, run outputs.

Nothing here knows about EEG or the model. ``check`` validates arguments with
messages that name the option; ``log`` holds the ``jrfit`` logger and the
``verbose`` decorator; ``atomic`` writes files so that a crash leaves no half
file; ``outputs`` commits the files of one run together; ``caches`` checks the
compiler caches before a fit.
"""
