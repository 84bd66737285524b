"""Edition-to-edition diffs: which citable units were added, removed, edited or renumbered, and how.

Units (Q&A items, 要綱 clauses, slide pages) are aligned between two editions *by content*, never by number alone,
because inserting one Q&A item renumbers every later item of its chapter.

Method
------
1. **Normalise** each unit: ``fold`` (NFKC, radical look-alikes repaired, lower case), all whitespace removed, and for
   要綱 clauses the leading clause number ("１ 目的" → "目的") dropped, since it is the section id, not content.
2. **Exact pass.** Units whose normalised texts are equal are paired first — "unchanged" when the section id is the
   same, "renumbered" otherwise. Duplicated texts are paired in document order (the longest common subsequence of
   each group of equal texts), so order is kept when content cannot decide.
3. **Similarity.** For the rest, each component is compared by the Dice coefficient of character-bigram multisets,
   the usual language-independent measure for text without word boundaries. Q&A items have two components: the
   question, weighted 2/3, and the answer, weighted 1/3; other units have one (the whole text).
4. **Chance correction.** Two *different* units of one document already share bigrams (the same legal vocabulary).
   The chance level ``b`` of each component is estimated from the document itself, as the median similarity between
   distinct units within each edition, and each similarity is rescaled as in Cohen's kappa: ``(s - b) / (1 - b)``,
   clipped to [0, 1]. 0 then means "as alike as two unrelated units of this document", 1 means identical.
5. **Assignment.** A pair is admissible only if its score reaches 1/2, the midpoint between chance and identity.
   With the 2:1 weights an identical question alone is enough evidence (2/3 ≥ 1/2), an identical answer alone is
   not (1/3 < 1/2): answers repeat across items (in the 第2版 Q&A, 2-2 and 2-3 have the same answer), questions say
   what an item is about. Among admissible pairs, the one-to-one pairing maximising the summed gain
   ``score - 1/2`` (pairing gains what it exceeds the acceptance level by, leaving both units unmatched gains
   nothing: the gap cost of sequence alignment) is found as a linear assignment problem (scipy's
   ``linear_sum_assignment``). So one strong pair is not traded for two borderline ones. Ties are broken towards
   order-preserving pairs by a bonus of 1e-6 × position proximity.
6. **Classify.** An accepted pair is "modified" when the section id is kept, "renumbered+modified" otherwise;
   leftover new units are "added", leftover old units "removed".

None of the numbers depends on a particular document: the weights and the 1/2 acceptance level follow from the two
requirements above, and the chance level is measured on the editions being compared.

Modules: ``model`` (the result types), ``similarity`` (steps 1, 3, 4), ``align`` (steps 2, 5), ``editions``
(step 6 and the row order), ``inline`` (the character diff of a modified row), ``notes`` (notes for search hits).
"""

from corpus.diff.align import hungarian
from corpus.diff.editions import DEFAULT_KINDS, diff_editions
from corpus.diff.inline import MERGE_GAP, inline_diff
from corpus.diff.model import CHANGE_KINDS, ChangeKind, DiffItem, EditionDiff, InlineOp
from corpus.diff.notes import change_notes
from corpus.diff.similarity import normalize

__all__ = [
    "CHANGE_KINDS",
    "DEFAULT_KINDS",
    "MERGE_GAP",
    "ChangeKind",
    "DiffItem",
    "EditionDiff",
    "InlineOp",
    "change_notes",
    "diff_editions",
    "hungarian",
    "inline_diff",
    "normalize",
]
