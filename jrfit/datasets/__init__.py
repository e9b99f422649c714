"""The built-in example recording, shipped as package data.

``jr_example_raw.fif`` and its true parameters ``jr_example_truth.json`` live
here so that an installed wheel has them; :func:`jrfit.datasets.example.example_path`
points at the recording and :func:`jrfit.datasets.example.make_example_recording`
writes both files.
"""
