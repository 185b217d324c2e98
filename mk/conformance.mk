# Cross-language conformance scenarios (tests/).
conformance:
