using System.Text.Json;

namespace PaliGemma2.DocPipeline.Inference.Tests;

/// <summary>GemmaTokenizer against SentencePiece itself (Debian python3-sentencepiece), run live.</summary>
public sealed class TokenizerParityTests
{
    private static readonly string ModelPath = Path.Combine(TestEnvironment.Checkpoint("224"), "tokenizer.model");

    [Fact]
    public void Encode_and_decode_match_sentencepiece_on_the_corpus()
    {
        var corpusPath = TestEnvironment.Data("tokenizer-corpus.json");
        var corpus = JsonSerializer.Deserialize<string[]>(File.ReadAllText(corpusPath))!;
        var json = TestEnvironment.RunProcess(TestEnvironment.Python, [TestEnvironment.Script("sp_encode.py"), ModelPath, corpusPath]);
        using var doc = JsonDocument.Parse(json);
        var cases = doc.RootElement.GetProperty("cases").EnumerateArray().ToArray();
        Assert.Equal(corpus.Length, cases.Length);
        var tokenizer = GemmaTokenizer.Load(ModelPath);
        for (var i = 0; i < corpus.Length; i++)
        {
            var expected = cases[i].GetProperty("ids").EnumerateArray().Select(e => e.GetInt32()).ToArray();
            var actual = tokenizer.Encode(corpus[i]).ToArray();
            Assert.True(expected.SequenceEqual(actual), $"case {i} '{corpus[i]}': SentencePiece [{string.Join(",", expected)}] vs C# [{string.Join(",", actual)}]");
            Assert.Equal(cases[i].GetProperty("decoded").GetString(), tokenizer.Decode(expected));
        }

        foreach (var extra in doc.RootElement.GetProperty("decode_only").EnumerateArray())
        {
            var ids = extra.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32()).ToArray();
            Assert.Equal(extra.GetProperty("decoded").GetString(), tokenizer.Decode(ids));
        }
    }

    [Fact]
    public void Gemma_special_ids_are_where_the_model_expects_them()
    {
        var tokenizer = GemmaTokenizer.Load(ModelPath);
        Assert.Equal((0, 1, 2, 108), (tokenizer.PadId, tokenizer.EosId, tokenizer.BosId, tokenizer.NewlineId));
        Assert.Equal([tokenizer.NewlineId], tokenizer.Encode("\n"));
        Assert.Single(tokenizer.Encode("<loc0123>"));
        Assert.Single(tokenizer.Encode("<seg042>"));
        Assert.Equal("<loc0123>", tokenizer.TokenOf(tokenizer.Encode("<loc0123>")[0]));
    }

    [Fact]
    public void Decode_keeps_newlines_and_byte_fallback_round_trips()
    {
        var tokenizer = GemmaTokenizer.Load(ModelPath);
        foreach (var text in new[] { "a\nb\n\nc", "FINDINGS:\n  x", "🫁 𝄞 Лёгкие 肺", "<td>1</td>\n<loc0001>" })
        {
            Assert.Equal(text, tokenizer.Decode(tokenizer.Encode(text)));
        }

        Assert.Equal("x", tokenizer.Decode([tokenizer.BosId, tokenizer.Encode("x")[0], tokenizer.EosId, tokenizer.PadId]));
    }
}
