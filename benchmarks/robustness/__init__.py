"""FERPlus-shift: smile models under fixed, seeded camera, file and detector shifts."""
