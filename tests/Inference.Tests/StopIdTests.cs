using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace PaliGemma2.DocPipeline.Inference.Tests;

/// <summary>Generation stops on every id of generation_config.json's eos_token_id, as HF's generate() does.</summary>
public sealed class StopIdTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "pg-stop-" + Guid.NewGuid().ToString("N"));

    public StopIdTests()
    {
        Directory.CreateDirectory(_dir);
        foreach (var file in Directory.GetFiles(TestEnvironment.Checkpoint("224")))
        {
            File.Copy(file, Path.Combine(_dir, Path.GetFileName(file)));
        }
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task A_second_eos_id_in_generation_config_ends_the_sequence_where_the_golden_ids_reach_it()
    {
        var c = Golden.Load(224).Batch1[0];
        // A token that first appears mid-sequence: the golden run (stopping on id 1 only) goes past it.
        var at = Enumerable.Range(2, c.Ids.Length - 2).First(k => Array.IndexOf(c.Ids, c.Ids[k]) == k);
        var stop = c.Ids[at];
        File.WriteAllText(Path.Combine(_dir, "generation_config.json"), $$"""{"eos_token_id": [1, {{stop}}], "pad_token_id": 0}""");

        using var model = PaliGemmaModel.Load(_dir);
        Assert.Equal([1, stop], model.Info.StopIds);
        using var image = Image.Load<Rgb24>(Path.Combine(TestEnvironment.CheckpointRoot, "images", c.Image));
        var result = (await model.GenerateAsync([new GenerationRequest(image, c.Prefix, c.MaxNewTokens)]))[0];

        Assert.Equal(c.Ids.Take(at + 1), result.TokenIds);
        Assert.Equal(StopReason.EndOfSequence, result.StopReason);
        Assert.Equal(model.Tokenizer.Decode(c.Ids.Take(at + 1)), result.Text);
    }

    [Fact]
    public void Without_generation_config_the_config_eos_id_stops()
    {
        var info = CheckpointInfo.Read(_dir);
        Assert.Equal([1], info.StopIds);
    }
}
