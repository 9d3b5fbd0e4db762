using System.Text.Json;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace PaliGemma2.DocPipeline.Inference.Tests;

/// <summary>
/// Cross-check against transformers.js (@huggingface/transformers + onnxruntime-node, tools/jsref) decoding
/// the onnx-community-style export at batch 1: an implementation that shares no code with this engine.
/// </summary>
public sealed class TransformersJsTests
{
    private static readonly string JsRef = Path.Combine(TestEnvironment.RepoRoot, "tools", "jsref");

    [Theory]
    [InlineData(224)]
    [InlineData(896)]
    public async Task Committed_transformersjs_output_matches_the_engine(int size)
    {
        // tools/jsref/expected-<size>.json is decode.mjs's committed output, so this holds without npm.
        var cases = Parse(File.ReadAllText(Path.Combine(JsRef, $"expected-{size}.json")));
        await AssertEngineMatches(size, cases);
    }

    [Theory]
    [InlineData(224)]
    [InlineData(896)]
    public async Task Live_transformersjs_run_matches_the_engine(int size)
    {
        // scripts/test.sh runs `npm ci` in tools/jsref; a run without it must say so rather than pass unchecked.
        Assert.True(Directory.Exists(Path.Combine(JsRef, "node_modules", "@huggingface", "transformers")),
            "tools/jsref/node_modules is missing: run the tests with scripts/test.sh (it runs npm ci there).");

        var stdout = TestEnvironment.RunProcess("node", ["decode.mjs", TestEnvironment.CheckpointRoot, size.ToString(System.Globalization.CultureInfo.InvariantCulture)], workingDirectory: JsRef);
        var live = Parse(stdout);
        var committed = Parse(File.ReadAllText(Path.Combine(JsRef, $"expected-{size}.json")));
        Assert.Equal(committed.Select(c => c.Ids), live.Select(c => c.Ids));
        await AssertEngineMatches(size, live);
    }

    private static async Task AssertEngineMatches(int size, IReadOnlyList<JsCase> cases)
    {
        Assert.NotEmpty(cases);
        using var model = PaliGemmaModel.Load(TestEnvironment.Checkpoint($"{size}-community"));
        foreach (var c in cases)
        {
            using var image = Image.Load<Rgb24>(Path.Combine(TestEnvironment.CheckpointRoot, "images", c.Image));
            var result = (await model.GenerateAsync([new GenerationRequest(image, c.Prefix, c.MaxNewTokens)]))[0];
            Assert.Equal(c.PromptIds, model.BuildPromptIds(c.Prefix));
            Assert.Equal(c.Ids, result.TokenIds);
        }
    }

    private static JsCase[] Parse(string json)
    {
        using var doc = JsonDocument.Parse(json);
        return [.. doc.RootElement.GetProperty("cases").EnumerateArray().Select(e => new JsCase(
            e.GetProperty("image").GetString()!,
            e.GetProperty("prefix").GetString()!,
            e.GetProperty("max_new_tokens").GetInt32(),
            [.. e.GetProperty("prompt_ids").EnumerateArray().Select(x => x.GetInt32())],
            [.. e.GetProperty("ids").EnumerateArray().Select(x => x.GetInt32())]))];
    }

    private sealed record JsCase(string Image, string Prefix, int MaxNewTokens, int[] PromptIds, int[] Ids);
}
