"""The book's colour palette (Okabe–Ito, safe for colour-blind readers), importable without matplotlib."""

OKABE_ITO = {
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "orange": "#E69F00",
    "grey": "#7F7F7F",
    "green": "#009E73",
    "sky": "#56B4E9",
    "purple": "#CC79A7",
    "black": "#000000",
}
