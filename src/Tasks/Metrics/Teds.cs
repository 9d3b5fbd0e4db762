using System.Globalization;
using HtmlAgilityPack;

namespace PaliGemma2.DocPipeline.Tasks.Metrics;

/// <summary>
/// Tree-Edit-Distance-based Similarity as PubTabNet's reference metric (Zhong et al. 2020, <c>src/metric.py</c> of
/// ibm-aur-nlp/PubTabNet) defines it: TEDS = 1 - TED(T1, T2) / max(n1, n2).
/// <list type="bullet">
/// <item>Parse rule: the HTML must hold a <c>table</c> directly under <c>body</c>; otherwise the score is 0. A fragment
/// (text not starting with <c>&lt;html</c> or <c>&lt;!doctype</c>) is read as <c>&lt;html&gt;&lt;body&gt;fragment&lt;/body&gt;&lt;/html&gt;</c>,
/// the form PubTabNet's files are written in. Comments are dropped; empty input scores 0.</item>
/// <item>Tree: the <c>table</c> and, below every node that is not a <c>td</c>, every child element (<c>caption</c>,
/// <c>th</c>, inline tags outside <c>td</c>, ...). A <c>td</c> is a leaf carrying its colspan, rowspan and tokens.
/// <c>th</c> keeps its own tag and is not a cell: its text is not compared.</item>
/// <item>Cell tokens: every character of the cell's text (spaces as they are) and each inline element as
/// <c>&lt;b&gt;</c> ... <c>&lt;/b&gt;</c> around its own tokens, followed by its tail text.</item>
/// <item>Costs: insert and delete 1; rename 1 when tags, colspans or rowspans differ; two <c>td</c> with any tokens cost
/// the token Levenshtein distance over the longer token list; otherwise 0.</item>
/// <item>Denominator n: the number of elements below <c>table</c> (the table itself excluded, inline tags inside
/// cells included), after <c>ignore_nodes</c> have been stripped (their tags removed, their content kept).</item>
/// </list>
/// S-TEDS (<c>structure_only</c>) gives every <c>td</c> an empty token list. Like the reference, a score is not clamped:
/// trees of very different shape can score below 0.
/// </summary>
public static class Teds
{
    private sealed class Node(string tag, int? colSpan, int? rowSpan, IReadOnlyList<string> tokens)
    {
        public string Tag { get; } = tag;
        public int? ColSpan { get; } = colSpan;
        public int? RowSpan { get; } = rowSpan;
        public IReadOnlyList<string> Tokens { get; } = tokens;
        public List<Node> Children { get; } = [];
    }

    /// <summary>TEDS of two table HTML strings (1 = identical; 0 when either side is empty or breaks the parse rule).</summary>
    /// <param name="predicted">Predicted HTML.</param>
    /// <param name="gold">Ground-truth HTML.</param>
    /// <param name="structureOnly">S-TEDS: ignore cell contents.</param>
    /// <param name="ignoreNodes">Tags stripped from both sides before scoring (the reference's <c>ignore_nodes</c>), e.g. <c>b</c>, <c>i</c>.</param>
    public static double Score(string predicted, string gold, bool structureOnly = false, IReadOnlyCollection<string>? ignoreNodes = null)
    {
        if (string.IsNullOrEmpty(predicted) || string.IsNullOrEmpty(gold))
        {
            return 0;
        }

        var a = TableElement(predicted, ignoreNodes);
        var b = TableElement(gold, ignoreNodes);
        if (a is null || b is null)
        {
            return 0;
        }

        var n = Math.Max(ElementsBelow(a), ElementsBelow(b));
        var distance = ZhangShasha(Build(a, structureOnly), Build(b, structureOnly));
        // The reference divides by zero for two bare <table></table>; identical empty tables are a match here.
        return n == 0 ? (distance == 0 ? 1 : 0) : 1 - (distance / n);
    }

    /// <summary>The reference's denominator for one side: elements below the table (0 when the parse rule fails).</summary>
    public static int NodeCount(string html, IReadOnlyCollection<string>? ignoreNodes = null) =>
        string.IsNullOrEmpty(html) || TableElement(html, ignoreNodes) is not { } t ? 0 : ElementsBelow(t);

    /// <summary>The tokens TEDS compares for a <c>td</c> (for tests and per-cell diagnostics).</summary>
    public static IReadOnlyList<string> CellTokens(HtmlNode td)
    {
        ArgumentNullException.ThrowIfNull(td);
        var tokens = new List<string>();
        foreach (var child in td.ChildNodes)
        {
            Tokenize(child, tokens);
        }

        return tokens;
    }

    private static HtmlNode? TableElement(string html, IReadOnlyCollection<string>? ignoreNodes)
    {
        var full = html.TrimStart().StartsWith("<html", StringComparison.OrdinalIgnoreCase)
            || html.TrimStart().StartsWith("<!doctype", StringComparison.OrdinalIgnoreCase);
        var doc = new HtmlDocument { OptionFixNestedTags = true, OptionAutoCloseOnEnd = true };
        doc.LoadHtml(full ? html : $"<html><body>{html}</body></html>");
        foreach (var comment in doc.DocumentNode.Descendants().Where(d => d.NodeType == HtmlNodeType.Comment).ToList())
        {
            comment.Remove();
        }

        var root = doc.DocumentNode.Element("html");
        // libxml2 implies <body> when a document has none; content then sits under <html>.
        var body = root?.Element("body") ?? root;
        var table = body?.ChildNodes.FirstOrDefault(c => c.NodeType == HtmlNodeType.Element && c.Name == "table");
        if (table is null)
        {
            return null;
        }

        if (ignoreNodes is { Count: > 0 })
        {
            Strip(table, ignoreNodes);
        }

        return table;
    }

    // lxml's strip_tags: the element goes, its text and children take its place.
    private static void Strip(HtmlNode table, IReadOnlyCollection<string> tags)
    {
        foreach (var element in table.Descendants().Where(d => d.NodeType == HtmlNodeType.Element && tags.Contains(d.Name, StringComparer.OrdinalIgnoreCase)).ToList())
        {
            var parent = element.ParentNode!;
            foreach (var child in element.ChildNodes.ToList())
            {
                parent.InsertBefore(child, element);
            }

            parent.RemoveChild(element);
        }
    }

    private static int ElementsBelow(HtmlNode table) => table.Descendants().Count(d => d.NodeType == HtmlNodeType.Element);

    private static Node Build(HtmlNode element, bool structureOnly)
    {
        if (element.Name == "td")
        {
            return new Node("td", Span(element, "colspan"), Span(element, "rowspan"), structureOnly ? [] : CellTokens(element));
        }

        var node = new Node(element.Name, null, null, []);
        foreach (var child in element.ChildNodes.Where(c => c.NodeType == HtmlNodeType.Element))
        {
            node.Children.Add(Build(child, structureOnly));
        }

        return node;
    }

    // The reference calls int() on the attribute, which accepts surrounding whitespace; an unreadable span counts as 1.
    private static int Span(HtmlNode td, string name) =>
        int.TryParse(td.GetAttributeValue(name, "1").Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var v) ? v : 1;

    private static void Tokenize(HtmlNode node, List<string> tokens)
    {
        switch (node.NodeType)
        {
            case HtmlNodeType.Text:
                foreach (var c in HtmlEntity.DeEntitize(node.InnerHtml))
                {
                    tokens.Add(c.ToString());
                }

                break;
            case HtmlNodeType.Element:
                tokens.Add($"<{node.Name}>");
                foreach (var child in node.ChildNodes)
                {
                    Tokenize(child, tokens);
                }

                // The reference writes no closing token for its placeholder tag <unk>.
                if (node.Name != "unk")
                {
                    tokens.Add($"</{node.Name}>");
                }

                break;
        }
    }

    private static double Rename(Node a, Node b)
    {
        if (a.Tag != b.Tag || a.ColSpan != b.ColSpan || a.RowSpan != b.RowSpan)
        {
            return 1;
        }

        if (a.Tag == "td" && (a.Tokens.Count > 0 || b.Tokens.Count > 0))
        {
            return (double)EditDistance.Levenshtein(a.Tokens, b.Tokens, StringComparer.Ordinal) / Math.Max(a.Tokens.Count, b.Tokens.Count);
        }

        return 0;
    }

    // Zhang & Shasha (1989): post-order numbering, leftmost leaves, keyroots, forest distance per keyroot pair.
    // It finds the same optimal distance as the reference's APTED under the same costs.
    private static double ZhangShasha(Node t1, Node t2)
    {
        var (n1, l1, k1) = Prepare(t1);
        var (n2, l2, k2) = Prepare(t2);
        var td = new double[n1.Count, n2.Count];
        foreach (var i in k1)
        {
            foreach (var j in k2)
            {
                var rows = i - l1[i] + 2;
                var cols = j - l2[j] + 2;
                var fd = new double[rows, cols];
                for (var x = 1; x < rows; x++)
                {
                    fd[x, 0] = fd[x - 1, 0] + 1;
                }

                for (var y = 1; y < cols; y++)
                {
                    fd[0, y] = fd[0, y - 1] + 1;
                }

                for (var x = 1; x < rows; x++)
                {
                    for (var y = 1; y < cols; y++)
                    {
                        var ii = l1[i] + x - 1;
                        var jj = l2[j] + y - 1;
                        if (l1[ii] == l1[i] && l2[jj] == l2[j])
                        {
                            fd[x, y] = Math.Min(Math.Min(fd[x - 1, y] + 1, fd[x, y - 1] + 1), fd[x - 1, y - 1] + Rename(n1[ii], n2[jj]));
                            td[ii, jj] = fd[x, y];
                        }
                        else
                        {
                            var px = l1[ii] - l1[i];
                            var py = l2[jj] - l2[j];
                            fd[x, y] = Math.Min(Math.Min(fd[x - 1, y] + 1, fd[x, y - 1] + 1), fd[px, py] + td[ii, jj]);
                        }
                    }
                }
            }
        }

        return td[n1.Count - 1, n2.Count - 1];
    }

    private static (List<Node> Nodes, int[] Leftmost, List<int> KeyRoots) Prepare(Node root)
    {
        var nodes = new List<Node>();
        var leftmost = new List<int>();
        Walk(root);
        var keyRoots = new List<int>();
        var seen = new HashSet<int>();
        for (var i = nodes.Count - 1; i >= 0; i--)
        {
            // A keyroot is the highest node with its leftmost leaf: no later node shares it.
            if (seen.Add(leftmost[i]))
            {
                keyRoots.Add(i);
            }
        }

        keyRoots.Reverse();
        return (nodes, leftmost.ToArray(), keyRoots);

        int Walk(Node n)
        {
            var first = -1;
            foreach (var c in n.Children)
            {
                var l = Walk(c);
                if (first < 0)
                {
                    first = l;
                }
            }

            nodes.Add(n);
            var index = nodes.Count - 1;
            leftmost.Add(first < 0 ? index : first);
            return leftmost[index];
        }
    }
}
