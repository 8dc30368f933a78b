"""Pure mechanisms, no Mesa: ledger, emission and vesting, AMM market, fee routing,
attribution engines, defences, learning models and metric functions.

numpy in, numpy out. Nothing here imports any other ledgerlab package.
"""
