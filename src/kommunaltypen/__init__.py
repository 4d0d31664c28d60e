"""kommunaltypen: typing municipalities by their digitalisation goals.

Implements and extends the typology of the study "Digitale Kommune: Eine Typfrage?"
(Krellmann, Opiela, Groß, Weber; ÖFIT/KGSt 2020, CC BY 3.0 DE).
"""

__version__ = "0.1.0"
