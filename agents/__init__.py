"""The roles (Mesa agents), each standing for a set of individuals whose state lives in
numpy columns: providers, builders, consumers, holders, validators, farmers, poisoners.
"""
