// Tests for MathEqual: the equivalence table, answers that must not match, structures and bounds.
#include "rewards/math/math_equal.h"

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

namespace aha::math {
namespace {

struct Case {
  std::string truth;
  std::string answer;
};

// Checks every case and names the failing pair with MathEqual's reason.
void ExpectAll(const std::vector<Case>& cases, bool expected) {
  for (const Case& c : cases) {
    EqualResult result = CompareAnswers(c.truth, c.answer);
    EXPECT_EQ(result.equal, expected)
        << "truth: " << c.truth << "  answer: " << c.answer << "  reason: " << result.reason;
  }
}

TEST(MathEqualTest, RequiredEquivalences) {
  ExpectAll({{R"(\frac{2}{3})", "2/3"},
             {R"(\frac12)", R"(\frac{1}{2})"},
             {R"(\text{13})", "13"},
             {"016", "16"},
             {R"(\sqrt{17})", "4.123105625617661"},
             {"115,000", "115000"},
             {"0,1", "(0,1)"},
             {"50%", "50"},
             {R"(50\%)", "50"},
             {"50", "50%"}},
            true);
}

TEST(MathEqualTest, Numbers) {
  ExpectAll({{"1234567", "1,234,567"},
             {"-3", "-3"},
             {"-3", "- 3"},
             {"0.5", ".5"},
             {"0.5", "1/2"},
             {".35625", R"(\frac{57}{160})"},
             {"1500", "1.5e3"},
             {"0.00012", "1.2e-4"},
             {"5", "5.0"},
             {"5", "5.000"},
             {"12", "12."},
             {"1000000", R"(10^6)"},
             {"1000000", R"(10^{6})"},
             {"1024", "2^10"},
             {R"(-\frac{24}{25})", "-0.96"},
             {"2/3", "0.6666667"},
             {"2/3", R"(\frac{4}{6})"},
             {"1.25", R"(\frac{5}{4})"},
             {"2.88e-19", R"(2.88 \times 10^{-19})"},
             {R"(\pi \times 10^{-20})", "3.14159265e-20"},
             {"0", R"(\sin(\pi))"},
             {R"(\frac{1}{8})", "0.125"}},
            true);
}

TEST(MathEqualTest, Fractions) {
  ExpectAll({{R"(\frac{3}{4})", R"(\dfrac{3}{4})"},
             {R"(\frac{3}{4})", R"(\tfrac34)"},
             {R"(\frac 34)", "3/4"},
             {R"(\frac9{19})", "9/19"},
             {R"(\frac{270}7)", R"(\frac{270}{7})"},
             {R"(137 \frac{1}{2})", "137.5"},
             {R"(1\frac{4}{5})", R"(\frac{9}{5})"},
             {R"(-1\frac{1}{2})", "-3/2"},
             {R"(\frac{x}{2})", "x/2"},
             {R"(\frac{\sqrt{3}}{3})", R"(\frac{1}{\sqrt{3}})"}},
            true);
}

TEST(MathEqualTest, LatexCleanup) {
  ExpectAll({{R"(\left( 3, \frac{\pi}{2} \right))", R"((3,\frac{\pi}{2}))"},
             {"10,080", R"(10,\!080)"},
             {R"(11,\! 111,\! 111,\! 100)", "11111111100"},
             {"10", R"(1\!0)"},
             {"2", R"(\,2\;)"},
             {"7", R"(\textbf{7})"},
             {"7", R"(\mathrm{7})"},
             {R"(106^\circ)", "106"},
             {"30", R"(30^{\circ})"},
             {"30", "30 degrees"},
             {R"(\$18.90)", "18.9"},
             {"$36$", "36"},
             {R"(\$32,\!348)", "32348"},
             {R"(\$32,\!348)", R"(\$32{,}348)"},
             {"1000", "1{,}000"},
             {R"(\frac{1}{2})", R"(\cfrac{1}{2})"},
             {R"(15\mbox{ cm}^2)", "15"},
             {R"(864 \mbox{ inches}^2)", R"(864\text{ in}^2)"},
             {R"(5.4 \text{ cents})", "5.4"},
             {R"(\frac{270}7\text{ degrees})", R"(\frac{270}{7})"},
             {"12", "12 square feet"},
             {"3", R"(3\text{ m})"},
             {R"(x \in [-2,7])", "[-2,7]"},
             {R"(\text{(B)})", "B"},
             {R"(\text{(C)})", R"(\textbf{(C)})"},
             {R"(\text{Evelyn})", "evelyn"},
             {R"(\text{east})", "East"}},
            true);
}

// Words after a number, as GSM8K-style and physics answers write them: the number counts.
TEST(MathEqualTest, WordsAfterANumber) {
  ExpectAll({{"18", R"(18 \text{ eggs})"},
             {"18", R"(18\text{ apples})"},
             {"18", "18 pages"},
             {"3", "3 red apples"},
             {"18", "18 pages."},
             {"5.2", R"(5.2 \text{ eV})"},
             {"500", R"(500 \text{ nm})"},
             {"300", R"(300 \text{ K})"},
             {"12000", R"(1.2 \times 10^{4} \text{ Hz})"},
             {"300000000", R"(3 \times 10^8\ \text{m/s})"},
             {R"(\frac{1}{2})", R"(\frac{1}{2}\text{ hours})"}},
            true);
  // Variables, math and multiplier words, or words in the middle are not dropped.
  ExpectAll({{"5", "5 x"},
             {"2", R"(2 \pi)"},
             {"2", "2 pi"},
             {"42", "42 apples and 3 pears"},
             {"18", R"(18 \text{ eggs} + 1)"},
             {"5", "5 xy"},
             {"6", "6 abc"},
             {"5", "5 xyz"},
             {"3", "3 xy"},
             {R"(\frac{3}{2})", R"(\frac{3}{2} kT)"},
             {"100", R"(100 \text{ thousand})"},
             {"5", "5 million"},
             {"2", "2 dozen"},
             {"5", R"(5 \text{ squared})"},
             {"3", R"(3 \text{ halves})"}},
            false);
  ExpectAll({{"2ab", "2 ab"}, {"3kT", "3 kT"}, {"2GM", "2 GM"}}, true);
}

TEST(MathEqualTest, UnicodeCharacters) {
  ExpectAll({{"-5", "\u22125"},
             {R"(2\pi)", "2\u03c0"},
             {R"(\pi r^2)", "\u03c0r\u00b2"},
             {R"(\sqrt{2})", "\u221a2"},
             {R"(\sqrt{x})", "\u221ax"},
             {R"(\sqrt{13})", "\u221a13"},
             {R"(3\sqrt{13})", "3\u221a13"},
             {R"(2\sqrt{113})", "2\u221a113"},
             {R"(3\times10^8)", "3\u00d710^8"},
             {R"(\frac{1}{2})", "\u00bd"},
             {"x^2", "x\u00b2"},
             {"1000", "1\u00a0000"},
             {"1000000", "1\u202f000\u202f000"},
             {"5", "\u00a05"}},
            true);
  // Signs and relations, roots of other orders, Greek letters and fullwidth digits.
  ExpectAll({{R"(\pm 3)", "\u00b13"},
             {R"(x \le 5)", "x \u2264 5"},
             {R"(x \ge -1)", "x \u2265 \u22121"},
             {R"(x \ne 2)", "x \u2260 2"},
             {R"(\sqrt[3]{2})", "\u221b2"},
             {R"(2\sqrt[3]{5})", "2\u221b5"},
             {R"(\sqrt[4]{x})", "\u221cx"},
             {R"(\alpha)", "\u03b1"},
             {R"(2\theta)", "2\u03b8"},
             {R"(x \leq 5)", "x \u2264 5"},
             {R"(1 \leq x \leq 5)", "1\u2264x\u22645"},
             {R"(x \geq 5)", "x \u2265 5"},
             {R"(x \neq 5)", "x \u2260 5"},
             {R"(x \le 5)", "x <= 5"},
             {R"(x \le 5)", R"(x \leq 5)"},
             {R"(\mu)", "\u00b5"},
             {R"(\epsilon)", "\u03b5"},
             {R"(\Delta)", "\u0394"},
             {R"(\varphi)", "\u03c6"},
             {R"(2\varepsilon)", R"(2\epsilon)"},
             {"-2", "\u221b-8"},
             {R"(\sqrt[3]{-8})", "\u221b(-8)"},
             {"12", "\uff11\uff12"},
             {"3.5", "\uff13\uff0e\uff15"}},
            true);
  ExpectAll({{R"(\sqrt[3]{2})", "\u221a2"},
             {"12", "\uff11\uff13"},
             {R"(\alpha)", "\u03b2"},
             {R"(x \le 5)", "x < 5"},
             {R"(x \le 5)", "x \u2265 5"}},
            false);
}

TEST(MathEqualTest, RepeatingDecimals) {
  ExpectAll({{R"(\frac{1}{3})", R"(0.\overline{3})"},
             {R"(\frac{1}{6})", R"(0.1\overline{6})"},
             {R"(\frac{137}{110})", R"(1.2\overline{45})"},
             {R"(-\frac{2}{3})", R"(-0.\overline{6})"},
             {"1", R"(0.\overline{9})"},
             {R"(\frac{4}{33})", R"(.\overline{12})"},
             {R"(\frac{1}{3})", R"(0.\bar{3})"},
             {R"(\frac{1}{3})", R"(0.\overline{ 3 })"},
             // 18 repeating digits after a 0, and 36 digits in all: the 128-bit limit.
             {R"(\frac{1}{19})", R"(0.\overline{052631578947368421})"},
             {"1", R"(0.99999999999999999999999999999999\overline{9})"}},
            true);
  ExpectAll({{R"(\frac{1}{3})", R"(0.\overline{4})"}, {R"(\frac{1}{3})", "0.3"}}, false);
}

TEST(MathEqualTest, RepeatingDecimalNotations) {
  ExpectAll({{R"(\frac{1}{3})", "0.(3)"},
             {R"(\frac{1}{6})", "0.1(6)"},
             {R"(\frac{137}{110})", "1.2(45)"},
             {R"(-\frac{2}{3})", "-0.(6)"},
             {R"(\frac{1}{3})", R"(0.\dot{3})"},
             {R"(\frac{1}{3})", R"(0.\dot 3)"},
             {R"(\frac{1}{7})", R"(0.\dot{1}4285\dot{7})"},
             {R"(\frac{1}{6})", R"(0.1\dot{6})"},
             {R"(\frac{1}{3})", "0.333..."},
             {R"(\frac{1}{3})", "0.33..."},
             {R"(\frac{1}{6})", R"(0.1666\ldots)"},
             {R"(\frac{1}{6})", R"(0.1666\dots)"},
             {R"(\frac{1}{7})", "0.142857142857..."},
             {R"(\frac{4}{33})", "0.1212\u2026"},
             {"0.(3)", R"(\frac{1}{3})"},
             {R"(\frac{1}{3})", R"(0.\overline3)"},
             {R"(\frac{1}{3})", R"(0.\bar3)"}},
            true);
  ExpectAll({{R"(\frac{1}{3})", "0.3..."},
             {R"(\frac{1}{3})", "0.(4)"},
             {"(0.5, 2)", "0.5(2)"}},
            false);
}

TEST(MathEqualTest, InequalitiesAsIntervals) {
  ExpectAll({{R"(x \le 5)", R"(5 \ge x)"},
             {R"(x \le 5)", R"((-\infty, 5])"},
             {R"((-\infty, 5])", R"(x \leq 5)"},
             {R"(x > 2)", R"((2, \infty))"},
             {R"((2,\infty))", "2 < x"},
             {R"([1,2))", R"(1 \le x < 2)"},
             {R"([1,2))", R"(2 > x \ge 1)"},
             {R"((-\infty,\infty))", R"(\mathbb{R})"},
             {R"(\mathbb{R})", "\u211d"},
             {R"([\frac{1}{2}, 3])", R"(0.5 \le t \le 3)"}},
            true);
  ExpectAll({{R"(x \le 5)", "x < 5"},
             {R"([1,2))", R"(1 < x < 2)"},
             {R"((2,\infty))", "x < 2"},
             {R"(x \ne 1)", R"((-\infty,1))"},
             {"1 < x > 2", "(1,2)"},
             {"x < y", R"((-\infty,y))"}},
            false);
}

TEST(MathEqualTest, BinomialsOfIntegers) {
  ExpectAll({{R"(\binom{5}{2})", "10"},
             {"10", R"(\dbinom{5}{2})"},
             {"120", R"(\tbinom{10}{3})"},
             {R"(\frac{\binom{4}{2}}{2})", "3"},
             {"0", R"(\binom{3}{5})"},
             {"1", R"(\binom{7}{0})"},
             {"100891344545564193334812497256", R"(\binom{100}{50})"},
             {"20", R"(2\binom{5}{2})"},
             {"100", R"(\binom{5}{2}^2)"},
             {"0", R"(3\binom{2}{5})"}},
            true);
  ExpectAll({{"10", R"(\binom{5}{3} + 1)"}, {"10", R"(\binom{n}{2})"}}, false);
}

TEST(MathEqualTest, EmptySetAndInfinitySpellings) {
  ExpectAll({{R"(\emptyset)", R"(\varnothing)"},
             {R"(\emptyset)", "\u2205"},
             {R"(\emptyset)", R"(\{\})"},
             {R"(\infty)", "inf"},
             {R"(\infty)", "infinity"},
             {R"(\infty)", R"(\inf)"},
             {R"(-\infty)", "-inf"},
             {R"([2, \infty))", "[2, inf)"},
             {R"(x \ge 2)", "[2, infinity)"}},
            true);
  ExpectAll({{R"(\infty)", "info"}, {R"(\infty)", "-inf"}, {R"(\emptyset)", R"(\{0\})"}},
            false);
}

TEST(MathEqualTest, Percentages) {
  ExpectAll({{R"(10\%)", "0.1"},
             {"0.1", R"(10\%)"},
             {"25%", "0.25"},
             {R"(12.5\%)", R"(\frac{1}{8})"},
             {R"(50\%)", "50"}},
            true);
  ExpectAll({{R"(10\%)", "0.01"},
             {R"(10\%)", "1000"},
             // Percent signs in a GSM8K rationale are not the answer's.
             {"The price drops 20%. #### 40", "0.4"}},
            false);
}

TEST(MathEqualTest, Expressions) {
  ExpectAll({{R"(2\sqrt{5})", R"(\sqrt{20})"},
             // References that are 0 up to floating-point rounding.
             {R"(\sin(\pi))", "0"},
             {R"(\cos(\frac{\pi}{2}))", "0"},
             {R"(e^{i\pi}+1)", "0"},
             {R"(11\sqrt2)", R"(11 \sqrt{2})"},
             {R"(\frac{\sqrt{21}}{5})", "0.916515138991168"},
             {R"(12\pi)", R"(12 \cdot \pi)"},
             {R"(\pi)", "3.14159265"},
             {R"(\frac{20000}{\pi})", "6366.197723675814"},
             {R"(18+2\pi)", R"(2\pi+18)"},
             {R"(1+2\sqrt{3})", R"(2\sqrt3+1)"},
             {R"(\sqrt[3]{-8})", "-2"},
             {R"(\sqrt[3]{2})", "2^{1/3}"},
             {"4^{1/2}", "2"},
             {R"(-\frac{\pi}{6})", R"(-\pi/6)"},
             {R"(-2 + 7i)", "7i-2"},
             {"-3-4i", "(1-2i)^2"},
             {"1 - 12i", "-12i + 1"},
             {R"(\frac{\pi}{4})", R"(\tan^{-1}(1))"},
             {R"(\frac{\pi}{6})", R"(\sin^{-1}(\frac12))"},
             {R"(\frac{\pi}{3})", R"(\cos^{-1} 0.5)"},
             {R"(\frac{\pi}{4})", R"(\arctan 1)"},
             {R"(\frac{1}{\sin^{2} 1})", R"(\csc^2 1)"}},
            true);
}

TEST(MathEqualTest, ExpressionsInVariables) {
  ExpectAll({{"(a+5)(b+2)", "ab+2a+5b+10"},
             {"x^3+3x-6", "3x + x^3 - 6"},
             {"6r^2-4r-24", "2(3r^2-2r-12)"},
             {"8n^2 + 4n + 1", "4n(2n+1)+1"},
             {"p - q", "-(q-p)"},
             {R"(\frac{11+9a}{20})", R"(\frac{11}{20}+\frac{9a}{20})"},
             {R"(\cot x)", R"(\frac{\cos x}{\sin x})"},
             {R"(\sin^2 x + \cos^2 x)", "1"},
             {"5r^5", "5 r^{5}"},
             {"3R^2", "3 R^2"},
             {"x^2-1", "(x-1)(x+1)"},
             {R"(\ln(xy))", R"(\ln x + \ln y)"},
             {"a_1 + a_2", "a_2+a_1"},
             {R"(\theta^2)", R"(\theta\cdot\theta)"},
             {R"(\sqrt{x})", "x^{1/2}"},
             {R"(\ln(x^2))", R"(2\ln x)"},
             {R"(\sqrt{x^2})", "|x|"}},
            true);
}

TEST(MathEqualTest, Equations) {
  ExpectAll({{"y = 2x + 3", "y=3+2x"},
             {"y = 2x + 3", "2x + 3 = y"},
             {"y = -2x", "2x + y = 0"},
             {"5x - 7y + 11z + 4 = 0", "-5x + 7y - 11z - 4 = 0"},
             {"5x - 7y + 11z + 4 = 0", "10x - 14y + 22z + 8 = 0"},
             {"5", "x = 5"},
             {"x^3+3x-6", "p(x) = x^3+3x-6"},
             {"k = 2", "2"},
             {"x_1 = 4", "4"},
             {"a_{n} = 4", "4"},
             {R"(\alpha = 4)", "4"},
             {"x = 5", "y = 5"},
             {"5", "x = 2 + 3 = 5"},
             {"x = 5", "x = 2 + 3 = 5"},
             {"1.6", R"(\approx 1.6)"},
             {"1.6", R"(\sim 1.6)"},
             {"1.6", "\u2248 1.6"},
             // Worked arithmetic ending in the result.
             {"540", "18 + 522 = 540"},
             {"70000", "18 + 69982 = 70000"},
             {"5", "2+3 = 5"}},
            true);
}

TEST(MathEqualTest, StructuredAnswers) {
  ExpectAll({{"(1,-16,-4,43)", "(1, -16, -4, 43)"},
             {R"(\left( \frac{3}{2}, -13 \right))", "(1.5, -13)"},
             {R"((-\infty, 0])", R"((-\infty,0])"},
             {R"((-\infty, 2) \cup (3, \infty))", R"((3,\infty)\cup(-\infty,2))"},
             {R"((2,\infty))", R"((2, \infty))"},
             {R"(\left(\frac{3}{5},\frac{8}{3}\right])", "(0.6, 8/3]"},
             {"-2,1", "1,-2"},
             {"3, 5, 7", "7, 3, 5"},
             {"3, 5, 7", R"(\{3,5,7\})"},
             {R"(\{1,2\})", R"(\{2,1\})"},
             {R"(\{5\})", "5"},
             {R"(1 \pm \sqrt{19})", R"(1+\sqrt{19}, 1-\sqrt{19})"},
             {R"(3 \pm 2 \sqrt{2})", R"(3-2\sqrt2,3+2\sqrt2)"},
             {R"(\{1\pm\sqrt{5},-2\})", R"(-2, 1-\sqrt5, 1+\sqrt5)"},
             {"x = 1, x = 2", "1, 2"},
             {R"(2 \text{ or } 3)", "3,2"},
             {R"(\begin{pmatrix} -1 & 0 \\ 0 & -1 \end{pmatrix})",
              R"(\begin{pmatrix}-1&0\\0&-1\end{pmatrix})"},
             {R"(\begin{pmatrix} -1/3 \\ 2/3 \\ 5/3 \end{pmatrix})",
              R"(\begin{pmatrix} -\frac{1}{3} \\ \frac{2}{3} \\ \frac{5}{3} \end{pmatrix})"},
             {R"(\begin{pmatrix} 1/5 \\ -18/5 \end{pmatrix})", "(0.2, -3.6)"},
             {R"(\begin{pmatrix} 1 & 2 \end{pmatrix})", R"(\begin{bmatrix} 1 & 2 \end{bmatrix})"},
             {"2516_8", "2516_8"},
             {"4210_{5}", "4210_5"},
             {"204_5", "204"}},
            true);
}

TEST(MathEqualTest, GroundTruthInGsm8kForm) {
  ExpectAll({{"Some work <<2*3=6>>6.\n#### 6", "6"},
             {"#### 1,600", "1600"},
             {"#### 18", R"(\$18)"},
             {"#### 5/2", "2.5"},
             {"#### 1e5", "100000"},
             {R"(#### 3 \frac{1}{2})", "3.5"},
             {R"(\boxed{18})", "18"},
             {R"(so we get \boxed{18}.)", "18"}},
            true);
}

TEST(MathEqualTest, MustNotMatch) {
  ExpectAll({{"2/3", "0.67"},
             {"2/3", "0.6667"},
             {"1000000", "1000000.5"},
             {"1000000", "1000001"},
             {"0.15", "0.1500001"},
             {"840", "840840"},
             {"(1,2)", "(2,1)"},
             {R"(\{1,2\})", R"(\{1\})"},
             {"1,2", "1"},
             {"1,2,3", "1,2"},
             {"1,2", "1,2,2"},
             {"(1,2)", "[1,2]"},
             {"(3,4]", "(3,4)"},
             {"(1,2)", R"(\{1,2\})"},
             {"[0,1]", "0,1"},
             {"0,1", "0.1"},
             {R"(\sqrt{2})", "1.41"},
             {R"(\pi)", "3.14"},
             {R"(\pi)", "3.1416"},
             {"x^2-1", "(x-1)^2"},
             {"2x", "2y"},
             {"5", "5x"},
             {"-3", "3"},
             {"50", "0.5"},
             {"1+2i", "1-2i"},
             {R"(\infty)", R"(-\infty)"},
             {R"(\text{Evelyn})", "Navin"},
             {"2516_8", "2516_9"},
             {"204_5", "54"},
             {R"(1 \pm \sqrt{19})", R"(1+\sqrt{19})"},
             {"y = 2x + 3", "y = 2x + 4"},
             {"2.88e-19", R"(5 \times 10^{-19})"},
             {"2.88e-19", R"(5 \times 10^{-19}\text{ J})"},
             {"2.88e-19", R"(\frac{10^{-19}}{\pi})"},
             {"4.6e-24", R"(\pi \times 10^{-20})"},
             {"1e-15", "0"},
             {R"(\csc x)", R"(\sin^{-1} x)"},
             {R"(\frac{1}{\sin 1})", R"(\sin^{-1} 1)"},
             {"5", "x = 5 = 6"},
             {"x=3", "2x=3"},
             {"x=3", "|x|=3"},
             {"|x-1|", "x-1"},
             {"|x|", "x"},
             {"x", R"(\sqrt{x^2})"},
             {"x + i", "x"},
             {R"(\sqrt{x})", R"(\sqrt{-x})"},
             {"5", "2x = 5"},
             {"6", "3x=6"},
             {"3", "-x=3"},
             {R"(\pi = 3)", "3"},
             {R"(\begin{pmatrix} 1 & 2 \\ 3 & 4 \end{pmatrix})",
              R"(\begin{pmatrix} 1 & 3 \\ 2 & 4 \end{pmatrix})"},
             {R"(\begin{pmatrix} 1 \\ 2 \end{pmatrix})", R"(\begin{pmatrix} 1 & 2 \end{pmatrix})"}},
            false);
}

TEST(MathEqualTest, UnparseableAnswerIsWrong) {
  ExpectAll({{"42", "the answer is 42"},
             {"42", "42 apples and 3 pears"},
             {"42", "42?"},
             {"42", R"(\foo{42})"},
             {"3", "2 3"},
             {"7", "(7"},
             {"7", R"(\frac{7})"}},
            false);
}

TEST(MathEqualTest, EmptyAnswerIsWrong) {
  EXPECT_FALSE(MathEqual("42", ""));
  EXPECT_FALSE(MathEqual("42", "   "));
  EXPECT_FALSE(MathEqual("42", "$ $"));
  EXPECT_FALSE(MathEqual("", "42"));
}

TEST(MathEqualTest, ReasonNamesTheFailure) {
  EqualResult result = CompareAnswers("2/3", "0.67");
  EXPECT_FALSE(result.equal);
  EXPECT_FALSE(result.reason.empty());
  result = CompareAnswers("1", "2");
  EXPECT_EQ(result.reason, "exact values differ: 1 vs 2");
}

TEST(MathEqualTest, ToleranceIsConfigurable) {
  EqualOptions loose;
  loose.relative_tolerance = 1e-2;
  EXPECT_TRUE(MathEqual(R"(\pi)", "3.14", loose));
  EXPECT_FALSE(MathEqual(R"(\pi)", "3.14"));
}

TEST(MathEqualTest, DeterministicAcrossCalls) {
  for (int k = 0; k < 20; ++k) {
    EXPECT_TRUE(MathEqual("(a+5)(b+2)", "ab+2a+5b+10"));
    EXPECT_FALSE(MathEqual("(a+5)(b+2)", "ab+2a+5b+11"));
  }
}

// Returns how long one CompareAnswers call takes, in milliseconds.
double TimeCompare(const std::string& truth, const std::string& answer, bool* equal) {
  auto start = std::chrono::steady_clock::now();
  *equal = CompareAnswers(truth, answer).equal;
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
      .count();
}

TEST(MathEqualTest, HostileInputsReturnWrongQuickly) {
  // Bound checks, not benchmarks: each must finish far below 50 ms.
  std::vector<std::pair<std::string, std::string>> cases = {
      {"1", R"(10^{10^{10}})"},
      {"1", R"(10^{10^{10^{10}}})"},
      {R"(10^{10^{10}})", R"(10^{10^{10}} + 1)"},
      {"1", "2^{-10^{10}}"},
      {"1", R"((10^{10})!)"},
      {"1", std::string(5000, '(') + "1" + std::string(5000, ')')},
      {"1", std::string(60, '(') + "1" + std::string(60, ')') + std::string(70, ')')},
      {"1", R"(\frac{)" + std::string(3000, '{') + "1" + std::string(3000, '}')},
      {"1", R"(\sqrt{\sqrt{\sqrt{)" + std::string(2000, '2') + "}}}"},
      {"1", std::string(3000, '-') + "1"},
      {"1", "x" + std::string(3000, '^') + "2"},
      {"1,2", std::string(2000, ',')},
      {"(1,2)", std::string(3000, '(') + "1,2" + std::string(3000, ')')},
      {"1", R"(\boxed{)" + std::string(100000, 'x') + "}"},
  };
  for (const auto& [truth, answer] : cases) {
    bool equal = true;
    double ms = TimeCompare(truth, answer, &equal);
    EXPECT_FALSE(equal) << answer.substr(0, 40);
    EXPECT_LT(ms, 50.0) << answer.substr(0, 40);
  }
}

TEST(MathEqualTest, LongRepeatedAnswersReturnQuickly) {
  // Each of these was quadratic (tens of seconds at 1.8 MB) in NormalizeLatex.
  std::string units, separators, words;
  for (int k = 0; k < 200000; ++k) {
    units += R"(\text{cm})";
    separators += R"(,\!)";
    words += " cm";
  }
  for (const std::string& answer : {"5" + units, "1" + separators, "5" + words}) {
    bool equal = true;
    double ms = TimeCompare("5", answer, &equal);
    EXPECT_FALSE(equal) << answer.substr(0, 40);
    EXPECT_LT(ms, 200.0) << answer.substr(0, 40);
  }
}

TEST(MathEqualTest, LongAnswerComparesAsText) {
  std::string long_truth = "x" + std::string(1200, '1');
  EXPECT_TRUE(MathEqual(long_truth, long_truth));
  EXPECT_FALSE(MathEqual("5", "5" + std::string(1200, ' ') + "."));
}

TEST(MathEqualTest, NormalizingManyUnitsIsLinear) {
  // Below the length cap, the clean-up itself must stay fast too.
  EqualOptions options;
  options.max_answer_length = 1 << 30;
  std::string units, separators, words;
  for (int k = 0; k < 100000; ++k) {
    units += R"(\text{cm})";
    separators += R"(,\!)";
    words += " cm";
  }
  for (const std::string& answer : {"5" + units, "1" + separators, "5" + words}) {
    auto start = std::chrono::steady_clock::now();
    CompareAnswers("5", answer, options);
    double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
                    .count();
    EXPECT_LT(ms, 1000.0) << answer.substr(0, 40);
  }
}

TEST(MathEqualTest, LongSumStaysBounded) {
  std::string sum = "1";
  for (int k = 0; k < 1500; ++k) sum += "+1";
  bool equal = false;
  double ms = TimeCompare("1501", sum, &equal);
  EXPECT_LT(ms, 50.0);
  // 3001 nodes is past ParseLimits::max_nodes, so the sum does not parse.
  EXPECT_FALSE(equal);
}

TEST(MathEqualTest, HugeExactValueComparesExactly) {
  EXPECT_TRUE(MathEqual("2^{100}", "1267650600228229401496703205376"));
  EXPECT_FALSE(MathEqual("2^{100}", "1267650600228229401496703205377"));
}

}  // namespace
}  // namespace aha::math
