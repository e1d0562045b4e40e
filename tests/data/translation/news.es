El gato está en la alfombra.
Hoy hace sol.
¡Buenos días!
