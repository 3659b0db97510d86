"""HTTP adapters, one package per API family; each translates between its wire shape and the domain."""
