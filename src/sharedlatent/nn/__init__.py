"""The torch math: the module, joint posteriors, likelihoods and the objective."""
