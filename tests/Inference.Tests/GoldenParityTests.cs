using System.Text.Json;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace PaliGemma2.DocPipeline.Inference.Tests;

/// <summary>The C# engine against the PyTorch model's own greedy ids (tools/make_test_checkpoint.py).</summary>
public sealed class GoldenParityTests
{
    public static TheoryData<string, int> Checkpoints => new()
    {
        { "224", 224 },
        { "224-community", 224 },
        { "896", 896 },
        { "896-community", 896 },
    };

    [Theory]
    [MemberData(nameof(Checkpoints))]
    public async Task Batch1_matches_pytorch_reference(string checkpoint, int size)
    {
        var golden = Golden.Load(size);
        using var model = PaliGemmaModel.Load(TestEnvironment.Checkpoint(checkpoint));
        Assert.Equal("CPU", model.ExecutionProvider);
        var results = await Generate(model, golden.Batch1);
        AssertMatches(golden.Batch1, results, model);
    }

    [Theory]
    [MemberData(nameof(Checkpoints))]
    public async Task Batch3_with_different_prompt_lengths_matches_pytorch_reference(string checkpoint, int size)
    {
        var golden = Golden.Load(size);
        Assert.True(golden.Batch3.Select(c => c.PromptSuffixIds.Length).Distinct().Count() == 3, "the batch must mix prompt lengths");
        Assert.True(golden.Batch3.Select(c => c.MaxNewTokens).Distinct().Count() == 3, "the batch must stop sequences at different steps");
        using var model = PaliGemmaModel.Load(TestEnvironment.Checkpoint(checkpoint));
        Assert.Equal(!checkpoint.EndsWith("community", StringComparison.Ordinal), model.SupportsBatching);
        var results = await Generate(model, golden.Batch3);
        AssertMatches(golden.Batch3, results, model);
    }

    [Theory]
    [InlineData("224", 224)]
    [InlineData("896", 896)]
    public async Task Heavy_left_padding_does_not_change_a_sequence(string checkpoint, int size)
    {
        // A long neighbour pads the golden prompt by ~200 tokens: only a correct mask and correct
        // per-row positions keep its ids equal to the PyTorch batch-1 reference.
        var golden = Golden.Load(size);
        var c = golden.Batch1[0];
        var longPrefix = string.Join(' ', Enumerable.Repeat("describe the table in detail", 12));
        using var model = PaliGemmaModel.Load(TestEnvironment.Checkpoint(checkpoint));
        Assert.True(model.BuildPromptIds(longPrefix).Length > model.BuildPromptIds(c.Prefix).Length + 150);
        using var image = Image.Load<Rgb24>(Path.Combine(TestEnvironment.CheckpointRoot, "images", c.Image));
        var results = await model.GenerateAsync([new GenerationRequest(image, c.Prefix, c.MaxNewTokens), new GenerationRequest(image, longPrefix, 3)]);
        Assert.Equal(c.Ids, results[0].TokenIds);
        Assert.Equal(3, results[1].TokenIds.Count);
    }

    [Fact]
    public async Task Float16_io_graphs_match_pytorch_reference()
    {
        // 224-fp16io takes and returns float16 everywhere (pixels, embeddings, KV cache, logits), so this
        // runs the engine's float16 conversions, cache allocation and argmax.
        var dir = TestEnvironment.Checkpoint("224-fp16io");
        using (var session = new Microsoft.ML.OnnxRuntime.InferenceSession(Path.Combine(dir, "decoder_model_merged.onnx")))
        {
            Assert.Equal(Microsoft.ML.OnnxRuntime.Tensors.TensorElementType.Float16, session.InputMetadata["past_key_values.0.key"].ElementDataType);
            Assert.Equal(Microsoft.ML.OnnxRuntime.Tensors.TensorElementType.Float16, session.OutputMetadata["logits"].ElementDataType);
        }

        var golden = Golden.Load(224);
        using var model = PaliGemmaModel.Load(dir);
        AssertMatches(golden.Batch1, await Generate(model, golden.Batch1), model);
        AssertMatches(golden.Batch3, await Generate(model, golden.Batch3), model);
    }

    [Fact]
    public async Task Requests_beyond_max_batch_size_are_split_and_keep_their_order()
    {
        var golden = Golden.Load(224);
        using var model = PaliGemmaModel.Load(TestEnvironment.Checkpoint("224"), options: new PaliGemmaLoadOptions { PreferCuda = false, MaxBatchSize = 2 });
        AssertMatches(golden.Batch3, await Generate(model, golden.Batch3), model);
    }

    [Fact]
    public void Golden_references_are_discriminating()
    {
        // Parity proves little if the ids repeat or two logits are nearly tied (DESIGN section 10).
        foreach (var size in new[] { 224, 896 })
        {
            var golden = Golden.Load(size);
            foreach (var c in golden.Batch1.Concat(golden.Batch3))
            {
                Assert.True(c.Ids.Distinct().Count() >= Math.Max(3, c.Ids.Length / 3), $"{size} '{c.Prefix}': ids barely vary");
                Assert.True(c.MinMargin > 0.02, $"{size} '{c.Prefix}': top-1/top-2 margin {c.MinMargin} is too close to float noise");
            }
        }
    }

    [Fact]
    public async Task Timings_and_prompt_length_are_reported()
    {
        var golden = Golden.Load(224);
        using var model = PaliGemmaModel.Load(TestEnvironment.Checkpoint("224"));
        var result = (await Generate(model, golden.Batch3))[0];
        Assert.Equal(golden.NumImageTokens + golden.Batch3[0].PromptSuffixIds.Length, result.PromptTokenCount);
        Assert.Equal(golden.Batch3.Max(c => c.Ids.Length) - 1, result.Timings.DecodeSteps.Count);
        Assert.True(result.Timings.Prefill > TimeSpan.Zero && result.Timings.Encode > TimeSpan.Zero);
        Assert.True(result.Timings.OrtRunTotal <= result.Timings.Total);
        Assert.Equal(StopReason.MaxNewTokens, result.StopReason);
    }

    [Fact]
    public async Task Raw_rgb_requests_match_imagesharp_requests()
    {
        var golden = Golden.Load(224);
        var c = golden.Batch1[0];
        using var model = PaliGemmaModel.Load(TestEnvironment.Checkpoint("224"));
        using var image = Image.Load<Rgb24>(Path.Combine(TestEnvironment.CheckpointRoot, "images", c.Image));
        var rgb = new byte[image.Width * image.Height * 3];
        image.CopyPixelDataTo(rgb);
        var results = await model.GenerateAsync([new GenerationRequest(rgb, image.Width, image.Height, c.Prefix, c.MaxNewTokens)]);
        Assert.Equal(c.Ids, results[0].TokenIds);
    }

    [Fact]
    public async Task Cancelled_generation_throws()
    {
        var golden = Golden.Load(896);
        using var model = PaliGemmaModel.Load(TestEnvironment.Checkpoint("896"));
        using var cts = new CancellationTokenSource();
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Generate(model, golden.Batch1, cts.Token));

        // Cancelled from inside generation, once the first of three one-image batches has been generated (no timing):
        // the next batch must not start.
        var three = Golden.Load(224).Batch3;
        using var midway = new CancellationTokenSource();
        var cancelAfterFirst = new CancelOnGenerated(midway);
        using var stepwise = PaliGemmaModel.Load(TestEnvironment.Checkpoint("224"), cancelAfterFirst, new PaliGemmaLoadOptions { MaxBatchSize = 1 });
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Generate(stepwise, three, midway.Token));
        Assert.Equal(3, three.Length);
        Assert.Equal(1, cancelAfterFirst.Batches);
    }

    /// <summary>Cancels its source when the model logs its first generated batch (event 3, "Generated batch of …").</summary>
    private sealed class CancelOnGenerated(CancellationTokenSource source) : Microsoft.Extensions.Logging.ILogger
    {
        public int Batches { get; private set; }

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(Microsoft.Extensions.Logging.LogLevel logLevel) => true;

        public void Log<TState>(Microsoft.Extensions.Logging.LogLevel logLevel, Microsoft.Extensions.Logging.EventId eventId, TState state, Exception? exception,
            Func<TState, Exception?, string> formatter)
        {
            if (eventId.Id == 3)
            {
                Batches++;
                source.Cancel();
            }
        }
    }

    private static async Task<IReadOnlyList<GenerationResult>> Generate(PaliGemmaModel model, IReadOnlyList<GoldenCase> cases, CancellationToken ct = default)
    {
        var images = cases.Select(c => Image.Load<Rgb24>(Path.Combine(TestEnvironment.CheckpointRoot, "images", c.Image))).ToArray();
        try
        {
            var requests = cases.Select((c, i) => new GenerationRequest(images[i], c.Prefix, c.MaxNewTokens)).ToArray();
            return await model.GenerateAsync(requests, ct);
        }
        finally
        {
            foreach (var image in images)
            {
                image.Dispose();
            }
        }
    }

    private static void AssertMatches(IReadOnlyList<GoldenCase> cases, IReadOnlyList<GenerationResult> results, PaliGemmaModel model)
    {
        Assert.Equal(cases.Count, results.Count);
        for (var i = 0; i < cases.Count; i++)
        {
            Assert.Equal(cases[i].PromptSuffixIds, model.BuildPromptIds(cases[i].Prefix));
            Assert.Equal(cases[i].Ids, results[i].TokenIds);
            Assert.All(results[i].TokenIds, id => Assert.InRange(id, 0, model.VocabularyLimit - 1));
            Assert.Equal(cases[i].Text, results[i].Text);
        }
    }
}

internal sealed record GoldenCase(string Image, string Prefix, int MaxNewTokens, int[] PromptSuffixIds, int[] Ids, double MinMargin, string Text);

internal sealed record Golden(int NumImageTokens, GoldenCase[] Batch1, GoldenCase[] Batch3)
{
    public static Golden Load(int size) => Load(size.ToString(System.Globalization.CultureInfo.InvariantCulture));

    public static Golden Load(string name)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(TestEnvironment.CheckpointRoot, $"golden-{name}.json")));
        var root = doc.RootElement;
        GoldenCase[] Cases(string key) => [.. root.GetProperty(key).EnumerateArray().Select(e => new GoldenCase(
            e.GetProperty("image").GetString()!,
            e.GetProperty("prefix").GetString()!,
            e.GetProperty("max_new_tokens").GetInt32(),
            [.. e.GetProperty("prompt_suffix_ids").EnumerateArray().Select(x => x.GetInt32())],
            [.. e.GetProperty("ids").EnumerateArray().Select(x => x.GetInt32())],
            e.GetProperty("min_margin").GetDouble(),
            e.GetProperty("text").GetString()!))];
        return new Golden(root.GetProperty("num_image_tokens").GetInt32(), Cases("batch1"), Cases("batch3"));
    }
}
