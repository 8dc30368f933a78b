"""The Mesa model: epoch loop, datanets and the learning task, the chain (simpy), data
collection, the run API and the sweep runner.
"""
