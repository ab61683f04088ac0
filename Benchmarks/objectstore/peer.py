# peer benchmark (see main.swift)
