"""Likelihoods and posteriors (stages 4-5): priors, observation models, samplers, diagnostics.

``priors`` and ``overrides`` say what is free and how it is believed a priori;
``likelihood``, ``leakage`` and ``residuals`` are the observation models of a
spectrum and of an averaged response; ``ops`` wraps the compiled forward models
as PyTensor Ops with exact gradients. The routes: ``spectral`` (linearised
spectrum, NUTS), ``simulation`` with ``synthetic`` (synthetic likelihood of a
simulated spectrum, SMC), ``erp`` (nonlinear waveform, NUTS); ``routes`` picks
between the first two per channel; ``adequacy`` checks the fit against the data.
What the routes share: ``compiled`` (the compiled NUTS models' mode search,
starts and sampling), ``observation_fit`` (the spectral start search's inner
fit), ``checkpoints`` (resuming an interrupted spectral fit), ``derived``
(peak frequency, damping, loop gains, regimes of the draws), ``diagnostics``
(R-hat, ESS, divergences) and ``results`` (:class:`~jrfit.inference.results.FitResult`,
the InferenceData and the provenance every route saves).
"""
