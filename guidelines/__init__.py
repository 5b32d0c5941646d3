"""Guidelines as first-class evidence: stored guidelines, their versions and harvest sources.

A guideline's recommendations are ``records.EvidenceRecord`` rows of kind ``recommendation``
(the unit a search lands on); this app keeps the guideline they belong to.
"""
