// Stand-in for the markdown Teams applies to TextBlock and Fact text, for the rendering tests.
//
// The adaptivecards package renders markdown only through a processor the host supplies
// (AdaptiveCard.onProcessMarkdown); Teams uses its own, and this project installs no other
// npm package. This one follows CommonMark where it matters for escaping: a backslash before
// ASCII punctuation makes it literal and splits the text run (so "https\://x" is no bare
// URL, as in cmark-gfm and markdown-it), entities are decoded, raw HTML is shown as text
// (markdown-it's html: false). It renders what Teams renders: **strong**, *em* / _em_,
// ~~strike~~, `code`, [links](url), <autolinks>, bare http(s) URLs, and a list, heading or
// quote marker at the start. It is deliberately eager: unescaped syntax always takes effect.
(function () {
  "use strict";
  const PUNCTUATION = /[!-\/:-@\[-`{-~]/;
  const WORD = /[\p{L}\p{N}]/u;

  function html(text) {
    return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
  }

  function decodeEntity(entity) {
    const area = document.createElement("textarea");
    area.innerHTML = entity;
    return area.value;
  }

  // Each token is one character; `literal` marks one that a backslash escaped.
  function tokenize(source) {
    const tokens = [];
    for (let i = 0; i < source.length; i++) {
      if (source[i] === "\\" && i + 1 < source.length && PUNCTUATION.test(source[i + 1])) {
        tokens.push({ c: source[i + 1], literal: true });
        i++;
      } else {
        tokens.push({ c: source[i], literal: false });
      }
    }
    return tokens;
  }

  const active = (tokens, i, text) =>
    [...text].every((c, k) => i + k < tokens.length && !tokens[i + k].literal && tokens[i + k].c === c);
  const plain = (tokens) => tokens.map((t) => t.c).join("");

  function find(tokens, from, text, closes) {
    for (let j = from; j < tokens.length; j++) {
      if (active(tokens, j, text) && (!closes || closes(j))) return j;
    }
    return -1;
  }

  function inline(tokens) {
    let out = "";
    for (let i = 0; i < tokens.length; i++) {
      const t = tokens[i];
      if (t.literal) {
        out += html(t.c);
        continue;
      }
      const rest = plain(tokens.slice(i));
      let end;
      if (t.c === "&" && (end = /^&(#\d+|#x[0-9a-f]+|[a-z][a-z0-9]*);/i.exec(rest)) && !tokens.slice(i, i + end[0].length).some((x) => x.literal)) {
        out += html(decodeEntity(end[0]));
        i += end[0].length - 1;
      } else if (t.c === "`" && (end = find(tokens, i + 1, "`")) > i) {
        out += "<code>" + html(plain(tokens.slice(i + 1, end))) + "</code>";
        i = end;
      } else if (t.c === "[" && (end = find(tokens, i + 1, "](")) > i && find(tokens, end + 2, ")") > end) {
        const close = find(tokens, end + 2, ")");
        out += '<a href="' + html(plain(tokens.slice(end + 2, close))) + '">' + inline(tokens.slice(i + 1, end)) + "</a>";
        i = close;
      } else if (t.c === "<" && (end = /^<([a-z][a-z0-9+.-]*:[^\s<>]*)>/i.exec(rest)) && !tokens.slice(i, i + end[0].length).some((x) => x.literal)) {
        out += '<a href="' + html(end[1]) + '">' + html(end[1]) + "</a>";
        i += end[0].length - 1;
      } else if ((active(tokens, i, "https://") || active(tokens, i, "http://")) && (end = /^https?:\/\/[^\s<]+/.exec(rest))) {
        let length = 0;
        while (length < end[0].length && !tokens[i + length].literal) length++;
        out += '<a href="' + html(rest.slice(0, length)) + '">' + html(rest.slice(0, length)) + "</a>";
        i += length - 1;
      } else if ((active(tokens, i, "**") || active(tokens, i, "~~")) && (end = emphasis(tokens, i, 2)) > i) {
        const tag = t.c === "*" ? "strong" : "del";
        out += "<" + tag + ">" + inline(tokens.slice(i + 2, end)) + "</" + tag + ">";
        i = end + 1;
      } else if ((t.c === "*" || t.c === "_") && (end = emphasis(tokens, i, 1)) > i) {
        out += "<em>" + inline(tokens.slice(i + 1, end)) + "</em>";
        i = end;
      } else {
        out += html(t.c);
      }
    }
    return out;
  }

  // The closing run of `width` delimiters for an opener at i, or -1: opener followed and
  // closer preceded by non-space; `_` does not open or close inside a word.
  function emphasis(tokens, i, width) {
    const marker = tokens[i].c.repeat(width);
    const next = tokens[i + width];
    if (!next || /\s/.test(next.c)) return -1;
    if (marker[0] === "_" && i > 0 && WORD.test(tokens[i - 1].c)) return -1;
    return find(tokens, i + width + 1, marker, (j) => {
      const after = tokens[j + width];
      return !/\s/.test(tokens[j - 1].c) && !(marker[0] === "_" && after && WORD.test(after.c));
    });
  }

  function render(source) {
    const tokens = tokenize(source.trim());
    const text = plain(tokens);
    const unescaped = (n) => !tokens.slice(0, n).some((t) => t.literal);
    let match;
    if ((match = /^(#{1,6}) /.exec(text)) && unescaped(match[0].length)) {
      const level = match[1].length;
      return "<h" + level + ">" + inline(tokens.slice(match[0].length)) + "</h" + level + ">";
    }
    if ((match = /^[-+*] /.exec(text)) && unescaped(2)) return "<ul><li>" + inline(tokens.slice(2)) + "</li></ul>";
    if ((match = /^\d{1,9}[.)] /.exec(text)) && unescaped(match[0].length)) {
      return "<ol><li>" + inline(tokens.slice(match[0].length)) + "</li></ol>";
    }
    if (/^> /.test(text) && unescaped(2)) return "<blockquote><p>" + inline(tokens.slice(2)) + "</p></blockquote>";
    return "<p>" + inline(tokens) + "</p>";
  }

  window.teamsMarkdown = render;
})();
