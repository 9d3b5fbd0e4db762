using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace PaliGemma2.DocPipeline.Inference.Tests;

/// <summary>
/// The 224 toy with an HF-style sliding window of 20 keys on its even layer (models/test-checkpoint/224-window,
/// tools/make_test_checkpoint.py --window-only 20) against golden ids from an independent PyTorch decode that
/// writes the window mask out from positions. With 256 image tokens the window bites from the first token.
/// </summary>
public sealed class SlidingWindowTests
{
    private const string Name = "224-window";

    [Fact]
    public void The_window_checkpoint_declares_hf_and_its_goldens_differ_from_the_unwindowed_model()
    {
        var info = CheckpointInfo.Read(TestEnvironment.Checkpoint(Name));
        Assert.Equal(SlidingWindowMode.Hf, info.SlidingWindow);
        var windowed = Golden.Load(Name);
        var plain = Golden.Load("224");
        // Same weights, same prompts: only the window differs, so the ids must too, or the test proves nothing.
        Assert.Equal(plain.Batch1.Concat(plain.Batch3).Select(c => c.Prefix), windowed.Batch1.Concat(windowed.Batch3).Select(c => c.Prefix));
        Assert.Contains(windowed.Batch1.Concat(windowed.Batch3).Zip(plain.Batch1.Concat(plain.Batch3)), p => !p.First.Ids.SequenceEqual(p.Second.Ids));
        Assert.All(windowed.Batch1.Concat(windowed.Batch3), c => Assert.True(c.MinMargin > 0.02, $"'{c.Prefix}': margin {c.MinMargin}"));
    }

    [Fact]
    public async Task Batch1_matches_the_pytorch_window_reference()
    {
        using var model = PaliGemmaModel.Load(TestEnvironment.Checkpoint(Name));
        var golden = Golden.Load(Name);
        await AssertMatches(model, golden.Batch1);
    }

    [Fact]
    public async Task Batch3_with_mixed_prompt_lengths_matches_the_pytorch_window_reference()
    {
        using var model = PaliGemmaModel.Load(TestEnvironment.Checkpoint(Name));
        var golden = Golden.Load(Name);
        Assert.Equal(3, golden.Batch3.Select(c => c.PromptSuffixIds.Length).Distinct().Count());
        await AssertMatches(model, golden.Batch3);
    }

    [Fact]
    public async Task Export_tool_with_sliding_window_none_matches_the_reference_that_ignores_the_window()
    {
        // 224-core-none: the window model's weights through tools/export_paligemma2.py's decoder with
        // --sliding-window none; golden-224.json is reference_decode with no window on the same weights.
        var info = CheckpointInfo.Read(TestEnvironment.Checkpoint("224-core-none"));
        Assert.Equal(SlidingWindowMode.None, info.SlidingWindow);
        using var model = PaliGemmaModel.Load(TestEnvironment.Checkpoint("224-core-none"));
        var unwindowed = Golden.Load("224");
        var windowed = Golden.Load(Name);
        Assert.Contains(unwindowed.Batch1.Concat(unwindowed.Batch3).Zip(windowed.Batch1.Concat(windowed.Batch3)), p => !p.First.Ids.SequenceEqual(p.Second.Ids));
        await AssertMatches(model, unwindowed.Batch1);
        await AssertMatches(model, unwindowed.Batch3);
    }

    [Fact]
    public async Task Export_tool_with_sliding_window_hf_matches_the_windowed_reference()
    {
        var info = CheckpointInfo.Read(TestEnvironment.Checkpoint("224-core-hf"));
        Assert.Equal(SlidingWindowMode.Hf, info.SlidingWindow);
        using var model = PaliGemmaModel.Load(TestEnvironment.Checkpoint("224-core-hf"));
        var golden = Golden.Load(Name);
        await AssertMatches(model, golden.Batch1);
        await AssertMatches(model, golden.Batch3);
    }

    private static async Task AssertMatches(PaliGemmaModel model, GoldenCase[] cases)
    {
        var images = cases.Select(c => Image.Load<Rgb24>(Path.Combine(TestEnvironment.CheckpointRoot, "images", c.Image))).ToArray();
        try
        {
            var results = await model.GenerateAsync([.. cases.Select((c, i) => new GenerationRequest(images[i], c.Prefix, c.MaxNewTokens))]);
            for (var i = 0; i < cases.Length; i++)
            {
                Assert.Equal(cases[i].PromptSuffixIds, model.BuildPromptIds(cases[i].Prefix));
                Assert.Equal(cases[i].Ids, results[i].TokenIds);
            }
        }
        finally
        {
            foreach (var image in images)
            {
                image.Dispose();
            }
        }
    }
}
