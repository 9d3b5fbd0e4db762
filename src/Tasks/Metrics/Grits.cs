using PaliGemma2.DocPipeline.Tasks.Tables;

namespace PaliGemma2.DocPipeline.Tasks.Metrics;

/// <summary>GriTS of one (prediction, gold) pair; <see cref="Loc"/> is null unless every cell of both grids has a box.</summary>
/// <param name="Top">GriTS-Top: cell topology (relative spans).</param>
/// <param name="Con">GriTS-Con: cell text.</param>
/// <param name="Loc">GriTS-Loc: cell boxes.</param>
public sealed record GritsScores(double Top, double Con, double? Loc);

/// <summary>
/// Grid Table Similarity (Smock, Pesala, Abraham 2023) as microsoft/table-transformer's <c>src/grits.py</c> computes it:
/// each table is a matrix of grid cells (a spanning cell fills every position it covers); the factored 2D most-similar
/// substructure aligns rows, then columns, by dynamic programming (ties: match, then skip a gold row, then skip a
/// predicted row) and sums the reward over the aligned positions; GriTS is the F-score of that sum over the gold and
/// predicted grid sizes. Rewards: Top the reference's IoU of relative spans, Con difflib's SequenceMatcher similarity
/// 2M/(|a|+|b|) of the cell texts, Loc the reference's IoU of cell boxes. The reference's IoU divides the intersection
/// by the smallest rectangle holding both boxes (PyMuPDF's <c>include_rect</c>), not by the union area.
/// </summary>
public static class Grits
{
    /// <summary>GriTS over the grids <see cref="TablePostProcessor.Parse"/> builds from two table HTML strings; null when either has no table.</summary>
    public static GritsScores? FromHtml(string predicted, string gold)
    {
        var p = TablePostProcessor.Parse(predicted ?? "", BoxOrder.XYXY, []);
        var g = TablePostProcessor.Parse(gold ?? "", BoxOrder.XYXY, []);
        return p is null || g is null ? null : Score(p, g);
    }

    /// <summary>GriTS of a predicted grid against a gold grid.</summary>
    public static GritsScores Score(TableGrid predicted, TableGrid gold)
    {
        ArgumentNullException.ThrowIfNull(predicted);
        ArgumentNullException.ThrowIfNull(gold);
        var (pSpan, pText, pBox) = Matrices(predicted);
        var (gSpan, gText, gBox) = Matrices(gold);
        var top = Factored2DMss(gSpan, pSpan, Iou);
        var con = Factored2DMss(gText, pText, LcsSimilarity);
        double? loc = All(gBox) && All(pBox) ? Factored2DMss(gBox, pBox, (a, b) => Iou(a!.Value, b!.Value)) : null;
        return new GritsScores(top, con, loc);

        static bool All(Box?[,] boxes) => boxes.Cast<Box?>().All(b => b is not null);
    }

    // A position no cell covers (a ragged grid) counts as an empty 1x1 cell without a box: the reference has no rule for it.
    private static (Box[,] Span, string[,] Text, Box?[,] Box) Matrices(TableGrid grid)
    {
        var span = new Box[grid.Rows, grid.Cols];
        var text = new string[grid.Rows, grid.Cols];
        var box = new Box?[grid.Rows, grid.Cols];
        for (var r = 0; r < grid.Rows; r++)
        {
            for (var c = 0; c < grid.Cols; c++)
            {
                span[r, c] = new Box(0, 0, 1, 1);
                text[r, c] = "";
            }
        }

        foreach (var cell in grid.Cells)
        {
            for (var r = cell.Row; r < Math.Min(grid.Rows, cell.Row + cell.RowSpan); r++)
            {
                for (var c = cell.Col; c < Math.Min(grid.Cols, cell.Col + cell.ColSpan); c++)
                {
                    // Relative span: the cell's extent in grid units, seen from this position.
                    span[r, c] = new Box(cell.Col - c, cell.Row - r, cell.Col + cell.ColSpan - c, cell.Row + cell.RowSpan - r);
                    text[r, c] = cell.ModelText;
                    box[r, c] = cell.ModelBox;
                }
            }
        }

        return (span, text, box);
    }

    /// <summary>Factored 2D-MSS F-score of a predicted matrix against a gold matrix under <paramref name="reward"/>.</summary>
    internal static double Factored2DMss<T>(T[,] gold, T[,] predicted, Func<T, T, double> reward)
    {
        int gr = gold.GetLength(0), gc = gold.GetLength(1), pr = predicted.GetLength(0), pc = predicted.GetLength(1);
        var rewards = new double[gr, gc, pr, pc];
        for (var a = 0; a < gr; a++)
        {
            for (var b = 0; b < gc; b++)
            {
                for (var c = 0; c < pr; c++)
                {
                    for (var d = 0; d < pc; d++)
                    {
                        rewards[a, b, c, d] = reward(gold[a, b], predicted[c, d]);
                    }
                }
            }
        }

        var (goldRows, predRows) = AlignOuter(gr, pr, (i, j) => Align1D(gc, pc, (x, y) => rewards[i, x, j, y]));
        var (goldCols, predCols) = AlignOuter(gc, pc, (i, j) => Align1D(gr, pr, (x, y) => rewards[x, i, y, j]));
        var score = 0.0;
        for (var i = 0; i < goldRows.Count; i++)
        {
            for (var j = 0; j < goldCols.Count; j++)
            {
                score += rewards[goldRows[i], goldCols[j], predRows[i], predCols[j]];
            }
        }

        return FScore(score, gr * gc, pr * pc);
    }

    // The reference's conventions: precision 1 without predictions, recall 1 without gold, F 0 when both are 0.
    private static double FScore(double matched, int gold, int predicted)
    {
        var precision = predicted > 0 ? matched / predicted : 1;
        var recall = gold > 0 ? matched / gold : 1;
        return precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0;
    }

    private static double Align1D(int n1, int n2, Func<int, int, double> reward)
    {
        var scores = new double[n1 + 1, n2 + 1];
        for (var i = 1; i <= n1; i++)
        {
            for (var j = 1; j <= n2; j++)
            {
                scores[i, j] = Math.Max(scores[i - 1, j - 1] + reward(i - 1, j - 1), Math.Max(scores[i - 1, j], scores[i, j - 1]));
            }
        }

        return scores[n1, n2];
    }

    private static (List<int> Gold, List<int> Predicted) AlignOuter(int n1, int n2, Func<int, int, double> reward)
    {
        var scores = new double[n1 + 1, n2 + 1];
        // 0 = match, -1 = skip a gold entry (up), 1 = skip a predicted entry (left); borders point outwards.
        var pointers = new int[n1 + 1, n2 + 1];
        for (var i = 1; i <= n1; i++)
        {
            pointers[i, 0] = -1;
        }

        for (var j = 1; j <= n2; j++)
        {
            pointers[0, j] = 1;
        }

        for (var i = 1; i <= n1; i++)
        {
            for (var j = 1; j <= n2; j++)
            {
                var diag = scores[i - 1, j - 1] + reward(i - 1, j - 1);
                var up = scores[i - 1, j];
                var left = scores[i, j - 1];
                var max = Math.Max(diag, Math.Max(up, left));
                scores[i, j] = max;
                pointers[i, j] = diag == max ? 0 : up == max ? -1 : 1;
            }
        }

        var gold = new List<int>();
        var predicted = new List<int>();
        for (int i = n1, j = n2; i > 0 || j > 0;)
        {
            switch (pointers[i, j])
            {
                case -1:
                    i--;
                    break;
                case 1:
                    j--;
                    break;
                default:
                    i--;
                    j--;
                    gold.Add(i);
                    predicted.Add(j);
                    break;
            }
        }

        gold.Reverse();
        predicted.Reverse();
        return (gold, predicted);
    }

    /// <summary>The reference's IoU: intersection area over the area of the smallest rectangle holding both boxes.</summary>
    public static double Iou(Box a, Box b)
    {
        var ix = Math.Min(a.X1, b.X1) - Math.Max(a.X0, b.X0);
        var iy = Math.Min(a.Y1, b.Y1) - Math.Max(a.Y0, b.Y0);
        var intersection = ix > 0 && iy > 0 ? ix * iy : 0;
        var hull = (Math.Max(a.X1, b.X1) - Math.Min(a.X0, b.X0)) * (Math.Max(a.Y1, b.Y1) - Math.Min(a.Y0, b.Y0));
        return hull > 0 ? intersection / hull : 0;
    }

    /// <summary>
    /// The reference's text similarity: 2M / (|a| + |b|) with M the characters of Python difflib's
    /// SequenceMatcher(None, a, b) matching blocks (Ratcliff–Obershelp, autojunk on); 1 for two empty strings.
    /// </summary>
    public static double LcsSimilarity(string a, string b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        var x = a.EnumerateRunes().Select(r => r.Value).ToArray();
        var y = b.EnumerateRunes().Select(r => r.Value).ToArray();
        return x.Length + y.Length == 0 ? 1 : 2.0 * MatchingCharacters(x, y) / (x.Length + y.Length);
    }

    private static int MatchingCharacters(int[] a, int[] b)
    {
        var b2j = new Dictionary<int, List<int>>();
        for (var j = 0; j < b.Length; j++)
        {
            if (!b2j.TryGetValue(b[j], out var list))
            {
                b2j[b[j]] = list = [];
            }

            list.Add(j);
        }

        // difflib's autojunk: in a b of 200+ elements, an element more frequent than 1% + 1 cannot start a match.
        if (b.Length >= 200)
        {
            var limit = (b.Length / 100) + 1;
            foreach (var popular in b2j.Where(e => e.Value.Count > limit).Select(e => e.Key).ToList())
            {
                b2j.Remove(popular);
            }
        }

        var total = 0;
        var queue = new Stack<(int ALo, int AHi, int BLo, int BHi)>();
        queue.Push((0, a.Length, 0, b.Length));
        while (queue.Count > 0)
        {
            var (alo, ahi, blo, bhi) = queue.Pop();
            var (i, j, k) = LongestMatch(a, b, b2j, alo, ahi, blo, bhi);
            if (k == 0)
            {
                continue;
            }

            total += k;
            if (alo < i && blo < j)
            {
                queue.Push((alo, i, blo, j));
            }

            if (i + k < ahi && j + k < bhi)
            {
                queue.Push((i + k, ahi, j + k, bhi));
            }
        }

        return total;
    }

    private static (int I, int J, int K) LongestMatch(int[] a, int[] b, Dictionary<int, List<int>> b2j, int alo, int ahi, int blo, int bhi)
    {
        int besti = alo, bestj = blo, bestsize = 0;
        var j2len = new Dictionary<int, int>();
        for (var i = alo; i < ahi; i++)
        {
            var next = new Dictionary<int, int>();
            if (b2j.TryGetValue(a[i], out var js))
            {
                foreach (var j in js)
                {
                    if (j < blo)
                    {
                        continue;
                    }

                    if (j >= bhi)
                    {
                        break;
                    }

                    var k = next[j] = j2len.GetValueOrDefault(j - 1) + 1;
                    if (k > bestsize)
                    {
                        (besti, bestj, bestsize) = (i - k + 1, j - k + 1, k);
                    }
                }
            }

            j2len = next;
        }

        // Extend with equal elements on both sides (popular elements included, as difflib does; there is no junk).
        while (besti > alo && bestj > blo && a[besti - 1] == b[bestj - 1])
        {
            (besti, bestj, bestsize) = (besti - 1, bestj - 1, bestsize + 1);
        }

        while (besti + bestsize < ahi && bestj + bestsize < bhi && a[besti + bestsize] == b[bestj + bestsize])
        {
            bestsize++;
        }

        return (besti, bestj, bestsize);
    }
}
