using HtmlAgilityPack;

namespace PaliGemma2.DocPipeline.Tasks.Metrics;

/// <summary>
/// Tree-Edit-Distance-based Similarity (Zhong et al., PubTabNet): TEDS = 1 - EditDistance(T1, T2) / max(|T1|, |T2|)
/// over the table's HTML tree (table, thead, tbody, tr, td/th). Inserting or deleting a node costs 1;
/// renaming costs 1 when the tags or the row/col spans differ, otherwise (two cells) the normalised
/// character Levenshtein distance of their contents. S-TEDS ignores contents (structure only).
/// </summary>
public static class Teds
{
    private sealed class Node(string tag, int rowSpan, int colSpan, string content)
    {
        public string Tag { get; } = tag;
        public int RowSpan { get; } = rowSpan;
        public int ColSpan { get; } = colSpan;
        public string Content { get; } = content;
        public List<Node> Children { get; } = [];
    }

    /// <summary>TEDS of two table HTML strings (1 = identical, 0 = nothing in common or unreadable).</summary>
    public static double Score(string predicted, string gold, bool structureOnly = false)
    {
        var a = Tree(predicted);
        var b = Tree(gold);
        if (a is null || b is null)
        {
            return 0;
        }

        var na = Flatten(a);
        var nb = Flatten(b);
        var distance = ZhangShasha(a, b, structureOnly);
        return 1 - distance / Math.Max(na.Count, nb.Count);
    }

    /// <summary>Nodes of the table tree (for callers that want the denominator).</summary>
    public static int NodeCount(string html) => Tree(html) is { } t ? Flatten(t).Count : 0;

    private static Node? Tree(string html)
    {
        var doc = new HtmlDocument { OptionFixNestedTags = true, OptionAutoCloseOnEnd = true };
        doc.LoadHtml(html ?? "");
        var table = doc.DocumentNode.Descendants("table").FirstOrDefault();
        return table is null ? null : Build(table);

        static Node Build(HtmlNode h)
        {
            var isCell = h.Name is "td" or "th";
            var node = new Node(
                h.Name == "th" ? "td" : h.Name, // PubTabNet's evaluation treats header cells as td
                h.GetAttributeValue("rowspan", 1),
                h.GetAttributeValue("colspan", 1),
                isCell ? string.Join(' ', HtmlEntity.DeEntitize(h.InnerText).Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)) : "");
            if (!isCell)
            {
                foreach (var child in h.ChildNodes.Where(c => c.Name is "thead" or "tbody" or "tr" or "td" or "th"))
                {
                    node.Children.Add(Build(child));
                }
            }

            return node;
        }
    }

    private static List<Node> Flatten(Node root)
    {
        var list = new List<Node>();
        Post(root);
        return list;

        void Post(Node n)
        {
            foreach (var c in n.Children)
            {
                Post(c);
            }

            list.Add(n);
        }
    }

    private static double Rename(Node a, Node b, bool structureOnly)
    {
        if (a.Tag != b.Tag || a.RowSpan != b.RowSpan || a.ColSpan != b.ColSpan)
        {
            return 1;
        }

        if (structureOnly || a.Tag != "td")
        {
            return 0;
        }

        var longer = Math.Max(a.Content.Length, b.Content.Length);
        return longer == 0 ? 0 : (double)EditDistance.Levenshtein(a.Content.ToCharArray(), b.Content.ToCharArray()) / longer;
    }

    // Zhang & Shasha (1989): post-order numbering, leftmost leaves, keyroots, forest distance per keyroot pair.
    private static double ZhangShasha(Node t1, Node t2, bool structureOnly)
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
                            fd[x, y] = Math.Min(Math.Min(fd[x - 1, y] + 1, fd[x, y - 1] + 1), fd[x - 1, y - 1] + Rename(n1[ii], n2[jj], structureOnly));
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
        for (var i = 0; i < nodes.Count; i++)
        {
            // A keyroot is the highest node with its leftmost leaf: no later node shares it.
            if (!Enumerable.Range(i + 1, nodes.Count - i - 1).Any(k => leftmost[k] == leftmost[i]))
            {
                keyRoots.Add(i);
            }
        }

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
