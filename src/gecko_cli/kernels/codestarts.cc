// The lines that open like code (balance/langid.py `_CODE_START`), counted per text from its UTF-8 as
// `len(_CODE_START.findall("\n" + text + "\n"))` counts them. Plain C, called through ctypes.
//
// Every match of the regex starts with the newline before a line, so its matches are lines: a line counts when,
// after its indentation (spaces and tabs), it opens with one of the regex's alternatives. Two alternatives end
// with the newline after the line (a line that is "#", "##..." or "--"): the line after it then has no newline
// of its own left to start a match, and does not count. The regex's \w and \b are Unicode's; where one of them
// would have to judge a character beyond ASCII, the text's count is -1 and Python's regex counts it.

#include <cstdint>
#include <cstring>
#include <initializer_list>

namespace {

const char* const kKeywords[] = {
    "abstract", "assert", "await", "break", "case", "char", "class", "const", "continue", "def", "default", "elif",
    "else", "end", "enum", "except", "export", "extern", "final", "finally", "fn", "for", "function", "goto", "if",
    "impl", "int", "lambda", "let", "local", "mod", "module", "namespace", "package", "pass", "private",
    "protected", "pub", "public", "raise", "require", "return", "static", "struct", "switch", "throw", "trait",
    "try", "typedef", "unsigned", "use", "using", "var", "void", "while", "with", "yield"};
const char* const kSql[] = {"SELECT", "INSERT", "UPDATE", "DELETE", "CREATE", "ALTER", "DROP", "FROM", "WHERE",
                            "JOIN", "LEFT", "INNER", "VALUES", "GROUP", "ORDER", "HAVING", "SET"};
const char* const kDirectives[] = {"include", "define", "if", "ifdef", "ifndef", "endif", "else", "elif", "pragma",
                                   "undef"};

// A text's bytes, and '\n' beyond both ends (the regex reads "\n" + text + "\n").
struct Text {
  const uint8_t* b;
  int64_t n;
  uint8_t at(int64_t i) const { return i < 0 || i >= n ? uint8_t('\n') : b[i]; }
};

enum Word { kNo = 0, kYes = 1, kUnknown = 2 };  // whether a character is \w

Word word_char(uint8_t c) {
  if (c >= 0x80) return kUnknown;  // beyond ASCII: Unicode decides
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ? kYes : kNo;
}

bool blank(uint8_t c) { return c == ' ' || c == '\t'; }

bool starts_with(const Text& t, int64_t i, int64_t end, const char* word, int64_t len, int64_t* after) {
  if (end - i < len || std::memcmp(t.b + i, word, size_t(len)) != 0) return false;
  *after = i + len;
  return true;
}

// A list of words grouped by their first byte, so that a line is compared with the words of its first letter only.
struct Words {
  struct Entry {
    const char* word;
    int64_t len;
  };
  Entry entries[64];
  int first[257];  // entries[first[c]:first[c + 1]] start with byte c

  template <size_t N>
  explicit Words(const char* const (&words)[N]) {
    int k = 0;
    for (int c = 0; c < 256; ++c) {
      first[c] = k;
      for (const char* w : words) {
        if (uint8_t(w[0]) == c) entries[k++] = {w, int64_t(std::strlen(w))};
      }
    }
    first[256] = k;
  }
};

const Words kKeywordWords(kKeywords), kSqlWords(kSql), kDirectiveWords(kDirectives);

// One of `words` at i, followed by a word boundary (\b after a word character: the next one is not \w).
Word word_at(const Text& t, int64_t i, int64_t end, const Words& words, int64_t* after) {
  if (i >= end) return kNo;
  const uint8_t c = t.b[i];
  Word found = kNo;
  for (int k = words.first[c]; k < words.first[c + 1]; ++k) {
    int64_t a;
    if (!starts_with(t, i, end, words.entries[k].word, words.entries[k].len, &a)) continue;
    const Word next = word_char(t.at(a));
    if (next == kNo) {
      *after = a;
      return kYes;
    }
    if (next == kUnknown) found = kUnknown;
  }
  return found;
}

// The end of a run of [\w.] from i (kUnknown in *word when it meets a character beyond ASCII).
int64_t word_run(const Text& t, int64_t i, int64_t end, Word* word) {
  *word = kYes;
  while (i < end) {
    const Word w = word_char(t.b[i]);
    if (w == kUnknown) *word = kUnknown;
    if (w == kNo && t.b[i] != '.') break;
    ++i;
  }
  return i;
}

// Whether line [start, end) (end: its newline) opens like code; kUnknown when Unicode would decide. *eats_newline:
// the alternative that matched ends with the newline after the line.
Word line_opens_code(const Text& t, int64_t start, int64_t end, bool* eats_newline) {
  *eats_newline = false;
  int64_t i = start;
  while (i < end && blank(t.b[i])) ++i;
  if (i == end) return kNo;
  const uint8_t c = t.b[i];
  if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || std::strchr("@#/*-\"'})]", c) != nullptr) || c == 0) {
    return kNo;
  }
  Word unknown = kNo;  // an alternative Unicode would decide, before any that matches for sure
  int64_t a;
  // keyword\b[^\n]*+ then a line ending in one of :;{(=)[], or in the word "then" or "do"
  Word w = word_at(t, i, end, kKeywordWords, &a);
  if (w != kNo) {
    const uint8_t last = t.at(end - 1);
    const bool ends = last != 0 && std::strchr(":;{(=)[],", last) != nullptr;
    Word tail = kNo;
    for (const char* word : {"then", "do"}) {
      const int64_t len = int64_t(std::strlen(word));
      if (end - len >= start && std::memcmp(t.b + end - len, word, size_t(len)) == 0) {
        const Word before = word_char(t.at(end - len - 1));
        if (before == kNo) tail = kYes;
        else if (before == kUnknown && tail == kNo) tail = kUnknown;
      }
    }
    if (ends || tail == kYes) {
      if (w == kYes) return kYes;
      unknown = kUnknown;
    } else if (tail == kUnknown) {
      unknown = kUnknown;
    }
  }
  // SQL\b, not followed by [ \t]+[a-z]+[ \t]+[a-z]
  w = word_at(t, i, end, kSqlWords, &a);
  if (w == kYes) {
    int64_t j = a, k;
    bool lower_words = false;
    if (j < end && blank(t.b[j])) {
      while (j < end && blank(t.b[j])) ++j;
      k = j;
      while (k < end && t.b[k] >= 'a' && t.b[k] <= 'z') ++k;
      if (k > j && k < end && blank(t.b[k])) {
        while (k < end && blank(t.b[k])) ++k;
        lower_words = k < end && t.b[k] >= 'a' && t.b[k] <= 'z';
      }
    }
    if (!lower_words) return unknown == kNo ? kYes : kUnknown;
  } else if (w == kUnknown) {
    unknown = kUnknown;
  }
  // import[ \t]+[\w.*{]
  if (starts_with(t, i, end, "import", 6, &a) && a < end && blank(t.b[a])) {
    while (a < end && blank(t.b[a])) ++a;
    if (a < end) {
      const Word next = word_char(t.b[a]);
      if (next == kYes || t.b[a] == '.' || t.b[a] == '*' || t.b[a] == '{') return unknown == kNo ? kYes : kUnknown;
      if (next == kUnknown) unknown = kUnknown;
    }
  }
  // from[ \t]+[\w.]+[ \t]+import\b
  if (starts_with(t, i, end, "from", 4, &a) && a < end && blank(t.b[a])) {
    while (a < end && blank(t.b[a])) ++a;
    Word run;
    const int64_t r = word_run(t, a, end, &run);
    if (r > a && r < end && blank(t.b[r])) {
      int64_t k = r;
      while (k < end && blank(t.b[k])) ++k;
      if (starts_with(t, k, end, "import", 6, &k)) {
        const Word next = word_char(t.at(k));
        if (next == kNo && run == kYes) return unknown == kNo ? kYes : kUnknown;
        if (next != kYes) unknown = kUnknown;  // a \b or a run that Unicode decides
      }
    }
    if (run == kUnknown) unknown = kUnknown;
  }
  // @[\w.]+ then "(" or blanks to the end of the line
  if (c == '@') {
    Word run;
    const int64_t r = word_run(t, i + 1, end, &run);
    if (r > i + 1) {
      int64_t k = r;
      bool opens = k < end && t.b[k] == '(';
      while (!opens && k < end && blank(t.b[k])) ++k;
      if (opens || k == end) return unknown == kNo && run == kYes ? kYes : kUnknown;
    }
    if (run == kUnknown) unknown = kUnknown;
  }
  if (c == '#') {
    // #[ \t]*directive\b
    int64_t k = i + 1;
    while (k < end && blank(t.b[k])) ++k;
    w = word_at(t, k, end, kDirectiveWords, &a);
    if (w == kYes) return unknown == kNo ? kYes : kUnknown;
    if (w == kUnknown) unknown = kUnknown;
    // #(?:[ \t\n]|#+\n)
    if (i + 1 == end || blank(t.b[i + 1])) {
      *eats_newline = i + 1 == end;
      return unknown == kNo ? kYes : kUnknown;
    }
    k = i + 1;
    while (k < end && t.b[k] == '#') ++k;
    if (k == end) {
      *eats_newline = true;
      return unknown == kNo ? kYes : kUnknown;
    }
    return unknown;
  }
  const uint8_t d = t.at(i + 1), e = t.at(i + 2);  // (the newline after the line where the line ends)
  if ((c == '"' && d == '"' && e == '"') || (c == '\'' && d == '\'' && e == '\'') || (c == '/' && (d == '/' || d == '*')) ||
      (c == '*' && d == '/') || c == '}' || c == ')' || c == ']') {
    return unknown == kNo ? kYes : kUnknown;
  }
  // --[ \t\n]
  if (c == '-' && d == '-' && i + 1 < end && (i + 2 == end || blank(e))) {
    *eats_newline = i + 2 == end;
    return unknown == kNo ? kYes : kUnknown;
  }
  return unknown;
}

}  // namespace

extern "C" {

// counts[i]: the lines of text i, data[starts[i]:ends[i]], that open like code; -1 where Unicode decides.
void gecko_code_starts(const uint8_t* data, const int64_t* starts, const int64_t* ends, int64_t n, int64_t* counts) {
  for (int64_t i = 0; i < n; ++i) {
    const Text t{data + starts[i], ends[i] - starts[i]};
    int64_t count = 0, line = 0;
    bool skip = false, unknown = false;
    while (true) {
      const void* nl = std::memchr(t.b + line, '\n', size_t(t.n - line));
      const int64_t end = nl ? static_cast<const uint8_t*>(nl) - t.b : t.n;
      if (skip) {
        skip = false;
      } else {
        bool eats;
        const Word w = line_opens_code(t, line, end, &eats);
        if (w == kUnknown) {
          unknown = true;
          break;
        }
        if (w == kYes) {
          ++count;
          skip = eats;
        }
      }
      if (end == t.n) break;
      line = end + 1;
    }
    counts[i] = unknown ? -1 : count;
  }
}

}  // extern "C"
