using System.Text.Json.Nodes;

namespace PaliGemma2.DocPipeline.Inference.Tests;

/// <summary>
/// checkpoint.json must declare how its fine-tune saw images and attended; a checkpoint that does not is
/// refused by name (what <c>docpipe models add</c> and every worker load run).
/// </summary>
public sealed class CheckpointDeclarationTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "pg-decl-" + Guid.NewGuid().ToString("N"));

    public CheckpointDeclarationTests()
    {
        Directory.CreateDirectory(_dir);
        foreach (var file in Directory.GetFiles(TestEnvironment.Checkpoint("224")))
        {
            File.Copy(file, Path.Combine(_dir, Path.GetFileName(file)));
        }
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [InlineData("image_mode", "'resize'", "'pad'")]
    [InlineData("resample", "'bicubic'", "'bilinear'")]
    [InlineData("sliding_window", "'hf'", "'none'")]
    public void A_checkpoint_missing_a_declaration_is_refused_naming_the_key_and_choices(string key, string choice1, string choice2)
    {
        EditCheckpoint(c => c.Remove(key));
        var ex = Assert.Throws<CheckpointException>(() => PaliGemmaModel.Load(_dir));
        Assert.Contains($"\"{key}\"", ex.Message, StringComparison.Ordinal);
        Assert.Contains(choice1, ex.Message, StringComparison.Ordinal);
        Assert.Contains(choice2, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Pad_without_a_pad_colour_is_refused()
    {
        EditCheckpoint(c => c["image_mode"] = "pad");
        var ex = Assert.Throws<CheckpointException>(() => PaliGemmaModel.Load(_dir));
        Assert.Contains("\"pad_color\"", ex.Message, StringComparison.Ordinal);
        Assert.Contains("#rrggbb", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("image_mode", "pad_to_square")]
    [InlineData("resample", "lanczos")]
    [InlineData("sliding_window", "config")]
    [InlineData("box_order", "xyyx")]
    public void An_unknown_choice_is_refused(string key, string value)
    {
        EditCheckpoint(c => c[key] = value);
        var ex = Assert.Throws<CheckpointException>(() => PaliGemmaModel.Load(_dir));
        Assert.Contains($"{key} '{value}'", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("resample", "2", "resample is 2")]
    [InlineData("image_mean", "[0.485, 0.456, 0.406]", "image_mean")]
    [InlineData("size", "{\"height\": 448, \"width\": 448}", "resolution 224")]
    public void A_preprocessor_config_that_contradicts_the_engine_is_refused(string key, string json, string expected)
    {
        var path = Path.Combine(_dir, "preprocessor_config.json");
        var node = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        node[key] = JsonNode.Parse(json);
        File.WriteAllText(path, node.ToJsonString());
        var ex = Assert.Throws<CheckpointException>(() => PaliGemmaModel.Load(_dir));
        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_checkpoint_without_checkpoint_json_is_refused()
    {
        File.Delete(Path.Combine(_dir, "checkpoint.json"));
        Assert.Contains("checkpoint.json", Assert.Throws<CheckpointException>(() => PaliGemmaModel.Load(_dir)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Every_declaration_is_read_into_checkpoint_info_and_the_preprocessor()
    {
        EditCheckpoint(c =>
        {
            c["image_mode"] = "pad";
            c["pad_color"] = "#000000";
            c["resample"] = "bilinear";
            c["sliding_window"] = "hf";
            c["box_order"] = "yxyx";
        });
        EditPreprocessor(p => p["resample"] = 2);
        using var model = PaliGemmaModel.Load(_dir);
        var info = model.Info;
        Assert.Equal((ImageMode.Pad, new PadColor(0, 0, 0), Resample.Bilinear, SlidingWindowMode.Hf, "yxyx"),
            (info.ImageMode, info.PadColor, info.Resample, info.SlidingWindow, info.BoxOrder));
        Assert.Equal((ImageMode.Pad, new PadColor(0, 0, 0), Resample.Bilinear),
            (model.Preprocessor.Mode, model.Preprocessor.PadColor, model.Preprocessor.Resample));
    }

    private void EditPreprocessor(Action<JsonObject> edit)
    {
        var path = Path.Combine(_dir, "preprocessor_config.json");
        var node = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        edit(node);
        File.WriteAllText(path, node.ToJsonString());
    }

    private void EditCheckpoint(Action<JsonObject> edit)
    {
        var path = Path.Combine(_dir, "checkpoint.json");
        var node = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        edit(node);
        File.WriteAllText(path, node.ToJsonString());
    }
}
