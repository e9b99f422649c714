"""The measured side (stages 1-2, load -> features): all of jrfit's MNE code.

The modules follow the data flow::

    io --> preprocess --> spectrum          (ObservedSpectrum)
                      --> events, evoked    (ObservedEvoked)

``io`` reads any format MNE reads (continuous recordings, epochs, averages);
``preprocess`` cleans them as a list of small recorded steps driven by one
:class:`~jrfit.data.preprocess.PreprocessOptions` (EEG only, 10-05 names and
positions from ``channels``, bad channels and segments found by ``detect``,
line noise, band-pass, ``reference``, picks and regions); ``spectrum``
computes the power spectra a spectral fit needs
(:class:`~jrfit.data.spectrum.ObservedSpectrum`), and ``evoked`` the averaged
responses and their standard errors an ERP fit needs
(:class:`~jrfit.data.evoked.ObservedEvoked`), of the conditions ``events``
finds. ``observed`` holds the validation and serialisation both observed
objects share; ``common`` and ``docs`` the processing record and the
docstring parameters.
"""
