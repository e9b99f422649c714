"""The measured side (stages 1-2, load -> features): all of jrfit's MNE code.

``recording`` reads any format MNE reads, preprocesses it (reference, bad
channels and segments, line noise) and computes the power spectra a spectral
fit needs (:class:`~jrfit.data.recording.ObservedSpectrum`); ``evoked`` makes
the averaged responses and their standard errors an ERP fit needs
(:class:`~jrfit.data.evoked.ObservedEvoked`).
"""
