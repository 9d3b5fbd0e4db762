using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using PaliGemma2.DocPipeline.Tasks.Metrics;

namespace PaliGemma2.DocPipeline.Tasks.Tests;

/// <summary>
/// BLEU-4 against NLTK's corpus_bleu, ROUGE-L against npm js-rouge, CER/SER/LER against python3-levenshtein, on
/// generated text and on text pdftotext extracts from Debian's texlive-latex-base-doc PDFs.
/// </summary>
public sealed class TextMetricReferenceTests
{
    private static readonly Lazy<List<string>> RealParagraphs = new(LoadRealText);

    private static List<string> LoadRealText()
    {
        var psi = new ProcessStartInfo("dpkg", "-L texlive-latex-base-doc") { RedirectStandardOutput = true };
        using var dpkg = Process.Start(psi)!;
        var pdfs = dpkg.StandardOutput.ReadToEnd().Split('\n').Where(l => l.EndsWith(".pdf", StringComparison.Ordinal)).Order(StringComparer.Ordinal).Take(4).ToList();
        dpkg.WaitForExit();
        Assert.True(pdfs.Count > 0, "texlive-latex-base-doc is not installed: run scripts/install-deps.sh");
        var paragraphs = new List<string>();
        foreach (var pdf in pdfs)
        {
            var text = References.Run("pdftotext", ["-l", "3", pdf, "-"], "", workingDirectory: Path.GetTempPath());
            var lines = text.Split('\n').Where(l => l.Trim().Length > 0).ToList();
            for (var i = 0; i + 3 <= lines.Count && paragraphs.Count < 40 * (pdfs.IndexOf(pdf) + 1); i += 3)
            {
                paragraphs.Add(string.Join('\n', lines.Skip(i).Take(3)));
            }
        }

        Assert.True(paragraphs.Count >= 40, $"only {paragraphs.Count} paragraphs of real text");
        return paragraphs;
    }

    private static readonly string[] Vocabulary = ["the", "heart", "size", "is", "normal", "no", "acute", "process", "lungs", "clear", "of", "a", "mild", "effusion", "left", "right."];

    private static string Sentence(Random r) => string.Join(' ', Enumerable.Range(0, r.Next(0, 18)).Select(_ => Vocabulary[r.Next(Vocabulary.Length)]));

    // Drops, replaces and duplicates words the way a generated report or OCR output differs from its gold.
    private static string Perturb(string text, Random r)
    {
        var words = text.Split(' ').ToList();
        for (var k = r.Next(0, 4); k > 0 && words.Count > 0; k--)
        {
            var i = r.Next(words.Count);
            switch (r.Next(3))
            {
                case 0: words.RemoveAt(i); break;
                case 1: words[i] = Vocabulary[r.Next(Vocabulary.Length)]; break;
                default: words.Insert(i, words[i]); break;
            }
        }

        return string.Join(' ', words);
    }

    private List<(string Hypothesis, string Reference)> Pairs(int seed)
    {
        var r = new Random(seed);
        var pairs = new List<(string, string)>();
        for (var i = 0; i < 150; i++)
        {
            var gold = Sentence(r);
            pairs.Add((r.Next(10) == 0 ? Sentence(r) : Perturb(gold, r), gold));
        }

        pairs.AddRange(RealParagraphs.Value.Select(p => (Perturb(p, r), p)));
        return pairs;
    }

    private static JsonArray Tokens(string s) => new(TextMetrics.Tokens(s).Select(t => (JsonNode)t!).ToArray());

    [Fact]
    public void Bleu4_matches_nltk_corpus_bleu()
    {
        var pairs = Pairs(1);
        // Corpora of one pair, of ten pairs and of all pairs: per-pair denominators and the brevity penalty both show.
        var corpora = new List<List<(string, string)>> { pairs };
        corpora.AddRange(pairs.Chunk(10).Select(c => c.ToList()));
        corpora.AddRange(pairs.Take(60).Select(p => new List<(string, string)> { p }));
        var input = new JsonArray(corpora.Select(c => (JsonNode)new JsonArray(c.Select(p => (JsonNode)new JsonArray(Tokens(p.Item1), Tokens(p.Item2))).ToArray())).ToArray());
        const string script = """
            import json, sys, warnings
            warnings.simplefilter('ignore')
            from nltk.translate.bleu_score import corpus_bleu
            out = []
            for corpus in json.load(sys.stdin):
                out.append(float(corpus_bleu([[r] for h, r in corpus], [h for h, r in corpus])))
            json.dump(out, sys.stdout)
            """;
        var expected = JsonSerializer.Deserialize<double[]>(References.Run(References.Python, ["-c", script], input.ToJsonString()))!;
        var nonzero = 0;
        for (var i = 0; i < corpora.Count; i++)
        {
            var actual = TextMetrics.Bleu4(corpora[i]);
            Assert.True(Math.Abs(actual - expected[i]) < 1e-9, $"corpus {i}: ours {actual}, nltk {expected[i]}");
            nonzero += actual > 0 ? 1 : 0;
        }

        Assert.True(nonzero > corpora.Count / 3, $"only {nonzero} corpora scored above 0");
    }

    [Fact]
    public void RougeL_matches_js_rouge()
    {
        References.RequireNodeModules();
        var pairs = Pairs(2);
        var input = new JsonArray(pairs.Select(p => (JsonNode)new JsonArray(Tokens(p.Hypothesis), Tokens(p.Reference))).ToArray());
        var expected = JsonSerializer.Deserialize<double[]>(References.Run("node", ["rouge.mjs"], input.ToJsonString()))!;
        for (var i = 0; i < pairs.Count; i++)
        {
            var actual = TextMetrics.RougeL(pairs[i].Hypothesis, pairs[i].Reference);
            Assert.True(Math.Abs(actual - expected[i]) < 1e-9, $"pair {i}: ours {actual}, js-rouge {expected[i]}");
        }
    }

    private static string RandomKern(Random r)
    {
        string[] symbols = ["4c", "8dd-L", "8ee-J", "2.G", "4r", "=1", "*clefG2", "*k[b-]", ".", "16ccLL", "4F#"];
        var sb = new StringBuilder("**kern\t**kern\n");
        for (var line = r.Next(1, 12); line > 0; line--)
        {
            sb.Append(symbols[r.Next(symbols.Length)]).Append('\t').Append(symbols[r.Next(symbols.Length)]);
            if (r.Next(4) == 0)
            {
                sb.Append(' ').Append(symbols[r.Next(symbols.Length)]); // chords: space-separated notes
            }

            sb.Append('\n');
        }

        return sb.Append("*-\t*-").ToString();
    }

    private static string PerturbKern(string kern, Random r)
    {
        var chars = kern.ToList();
        for (var k = r.Next(0, 6); k > 0 && chars.Count > 0; k--)
        {
            var i = r.Next(chars.Count);
            switch (r.Next(3))
            {
                case 0: chars.RemoveAt(i); break;
                case 1: chars[i] = "4c\t\n .-"[r.Next(7)]; break;
                default: chars.Insert(i, "8\t\n "[r.Next(4)]); break;
            }
        }

        return new string([.. chars]);
    }

    [Fact]
    public void Cer_ser_and_ler_match_python_levenshtein()
    {
        var r = new Random(3);
        var pairs = new List<(string Hypothesis, string Reference)>();
        for (var i = 0; i < 150; i++)
        {
            var gold = RandomKern(r);
            pairs.Add((PerturbKern(gold, r), gold));
        }

        pairs.AddRange(RealParagraphs.Value.Select(p => (PerturbKern(p, r), p)));
        pairs.Add(("", "4c"));
        // Python computes the tokenisation itself, as SMT's eval_functions.py states it; distinct tokens map to
        // distinct characters so python-Levenshtein's string distance is the token distance.
        const string script = """
            import json, sys
            import Levenshtein
            def dist(a, b):
                table = {}
                enc = lambda seq: ''.join(chr(0xE000 + table.setdefault(t, len(table))) for t in seq)
                return Levenshtein.distance(enc(a), enc(b))
            def symbols(s):
                return s.replace('\n', ' <b> ').replace('\t', ' <t> ').split(' ')
            out = []
            for h, g in json.load(sys.stdin):
                out.append([[Levenshtein.distance(h, g), len(g)],
                            [dist(symbols(h), symbols(g)), len(symbols(g))],
                            [dist(h.split('\n'), g.split('\n')), len(g.split('\n'))]])
            json.dump(out, sys.stdout)
            """;
        var input = new JsonArray(pairs.Select(p => (JsonNode)new JsonArray(p.Hypothesis, p.Reference)).ToArray());
        var expected = JsonSerializer.Deserialize<long[][][]>(References.Run(References.Python, ["-c", script], input.ToJsonString()))!;
        var totals = new long[3, 2];
        for (var i = 0; i < pairs.Count; i++)
        {
            var (h, g) = pairs[i];
            var ours = new[] { EditDistance.CerCounts(h, g), EditDistance.SerCounts(h, g), EditDistance.LerCounts(h, g) };
            for (var m = 0; m < 3; m++)
            {
                Assert.True(ours[m].Edits == expected[i][m][0] && ours[m].Length == expected[i][m][1],
                    $"pair {i}, metric {m}: ours {ours[m]}, python-Levenshtein ({expected[i][m][0]}, {expected[i][m][1]})");
                totals[m, 0] += expected[i][m][0];
                totals[m, 1] += expected[i][m][1];
            }
        }

        // The corpus rates through Evaluate pool the same counts.
        var keys = Enumerable.Range(0, pairs.Count).Select(i => $"k{i}").ToList();
        var report = Evaluation.Evaluate("score", keys.Select((k, i) => (k, pairs[i].Hypothesis)).ToDictionary(), keys.Select((k, i) => (k, pairs[i].Reference)).ToDictionary());
        string[] names = ["CER", "SER", "LER"];
        for (var m = 0; m < 3; m++)
        {
            Assert.Equal((double)totals[m, 0] / totals[m, 1], report.Metrics.Single(x => x.Name == names[m]).Value!.Value, 12);
        }
    }
}
