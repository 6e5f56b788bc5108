"""A fixed corpus of hostile text: what a contributor could put in a data cell, a title or a trigger.

Each payload tries one way out of "data are text": script tags, event handlers, ``javascript:`` links,
fence and shortcode breakouts, raw TeX and Typst, cross-reference and citation tokens, headings.
"""

from __future__ import annotations

PAYLOADS = [
    "<script>document.title='pwned-script'</script>",
    "<img src=x onerror=\"document.title='pwned-img'\">",
    "![i](x){onerror=\"document.title='pwned-attr'\"}",
    "[click me](javascript:document.title='pwned-link')",
    '<a href="javascript:alert(1)">html link</a>',
    "```{=html}\n<script>document.title='pwned-fence'</script>\n```",
    "```\n\n</div><script>document.title='pwned-close'</script>",
    "{{< embed ../analysis/02-synthesis.ipynb#fig-direction >}}",
    "{{< var review.version >}}",
    "\\input{/etc/passwd} \\href{javascript:alert(3)}{tex link}",
    '#read("/etc/passwd") #import "evil.typ": * $ x $',
    "see @fig-direction and [@Krupnick1996]",
    "line one\n\n# Injected chapter {#sec-injected}\n\nline two",
    "<!-- comment --> &lt;b&gt;entity&lt;/b&gt; ::: {.callout-note}",
]

# What must never appear in a page built from the payloads (as markup, not text).
MARKERS = ("pwned-script", "pwned-img", "pwned-attr", "pwned-link", "pwned-fence", "pwned-close")
