// Clean-up of LaTeX answer strings before they are parsed: spacing, wrappers, units, symbols.
#ifndef AHA_REWARDS_MATH_LATEX_NORMALIZE_H_
#define AHA_REWARDS_MATH_LATEX_NORMALIZE_H_

#include <cstddef>
#include <string>
#include <string_view>

namespace aha::math {

// Unit words dropped from the end of an answer ("15 cm^2" -> "15", "5.4 \text{ cents}" -> "5.4").
// A unit is dropped only when something is left before it, and single-letter units (m, g, s, h, l)
// only when written inside \text{}/\mbox{}/\mathrm{}, so that "2m" keeps its variable m.
// An optional "^2" or "^3" after the unit goes with it. Matching is case-insensitive.
inline constexpr const char* kUnitWords[] = {
    "mm",      "cm",      "km",       "m",          "millimeter", "millimeters", "centimeter",
    "centimeters", "meter", "meters", "metre",      "metres",     "kilometer",   "kilometers",
    "in",      "inch",    "inches",   "ft",         "foot",       "feet",        "yd",
    "yard",    "yards",   "mi",       "mile",       "miles",      "mph",         "kmh",
    "g",       "kg",      "mg",       "gram",       "grams",      "kilogram",    "kilograms",
    "lb",      "lbs",     "pound",    "pounds",     "oz",         "ounce",       "ounces",
    "l",       "ml",      "liter",    "liters",     "litre",      "litres",      "gallon",
    "gallons", "s",       "sec",      "secs",       "second",     "seconds",     "min",
    "mins",    "minute",  "minutes",  "h",          "hr",         "hrs",         "hour",
    "hours",   "day",     "days",     "week",       "weeks",      "month",       "months",
    "year",    "years",   "cent",     "cents",      "dollar",     "dollars",     "degree",
    "degrees", "radian",  "radians",  "unit",       "units",      "sq",          "square",
    "cubic",   "percent",
};

// True when `word` (any case) is in kUnitWords.
bool IsUnitWord(std::string_view word);

// Returns the index of the '}' that closes the '{' at text[open], or npos when the braces never
// balance. Escaped braces "\{" and "\}" are not counted.
size_t MatchingBrace(std::string_view text, size_t open);

// Rewrites an answer into the plain form the parser reads. In order, it:
//  - maps fullwidth ASCII ("１２") to ASCII, writes repeating decimals as fractions
//    ("0.\overline{3}", "0.\bar{3}", "0.(3)", "0.\dot{3}" and "0.333..." are \frac{1}{3}),
//    maps Unicode math characters to LaTeX ("−5", "2π", "√2", "∛2", "±3", "x ≤ 5", "α",
//    "3×10^8", "½", "x²") and Unicode spaces to spaces, dropping one between thousands groups
//    ("1 000" is 1000);
//  - removes "$" and "\$", percent signs ("\%", "%") and degree marks ("^\circ", "^{\circ}", "°",
//    "\degree"), so "50\%" reads as 50 and "90^\circ" as 90;
//  - turns ",\!" (with any spaces after it) into "," so "10,\!080" becomes the number "10,080";
//  - drops \left, \right (with a "." delimiter), \big-style sizes, \displaystyle, "\!", and turns
//    "\,", "\;", "\:", "\ ", "~", \quad and \qquad into a space;
//  - maps \dfrac, \tfrac and \cfrac to \frac, and the "{,}" thousands separator to ",";
//  - unwraps \text, \textbf, \textit, \textrm, \textnormal, \mathrm, \mathbf, \mathit and \mbox,
//    dropping the wrapper's content when it is a unit word, or words that end the answer
//    ("18 \text{ eggs}", "3 \times 10^8\ \text{m/s}");
//  - drops trailing unit words, a leading "x \in", a leading "\approx" or "\sim" (also "≈"), and
//    a trailing ".";
//  - drops plain words of two letters or more after a number at the end ("18 pages", "3 red
//    apples"), but not math words ("2 pi") or a one-letter variable ("5 x");
//  - turns the words " or " and " and " into commas, and collapses whitespace;
//  - spells the empty set \emptyset (\varnothing, "∅", "\{\}") and infinity \infty ("inf",
//    "infinity", \inf);
//  - writes a one-variable inequality as its interval ("x \le 5" is "(-\infty,5]", "1 \le x < 2"
//    is "[1,2)"), and \mathbb{R} as "(-\infty,\infty)".
std::string NormalizeLatex(std::string_view answer);

}  // namespace aha::math

#endif  // AHA_REWARDS_MATH_LATEX_NORMALIZE_H_
