"""The dispatcher: coordinates the rounds of a study and accounts for every byte."""
