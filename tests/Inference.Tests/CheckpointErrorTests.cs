using System.Text.Json.Nodes;

namespace PaliGemma2.DocPipeline.Inference.Tests;

/// <summary>Bad checkpoint directories are refused with a message that names the problem.</summary>
public sealed class CheckpointErrorTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "pg-bad-" + Guid.NewGuid().ToString("N"));

    public CheckpointErrorTests()
    {
        Directory.CreateDirectory(_dir);
        foreach (var file in Directory.GetFiles(TestEnvironment.Checkpoint("224")))
        {
            File.Copy(file, Path.Combine(_dir, Path.GetFileName(file)));
        }
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Copy_of_good_checkpoint_loads()
    {
        using var model = PaliGemmaModel.Load(_dir);
        Assert.Equal(224, model.Info.Resolution);
        Assert.Equal(ImageMode.Resize, model.Info.ImageMode);
    }

    [Fact]
    public void Missing_directory()
    {
        var ex = Assert.Throws<CheckpointException>(() => PaliGemmaModel.Load(Path.Combine(_dir, "nope")));
        Assert.Contains("does not exist", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Missing_graph_is_named()
    {
        File.Delete(Path.Combine(_dir, "decoder_model_merged.onnx"));
        var ex = Assert.Throws<CheckpointException>(() => PaliGemmaModel.Load(_dir));
        Assert.Contains("decoder_model_merged.onnx", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Missing_tokenizer_and_config_are_named()
    {
        File.Delete(Path.Combine(_dir, "tokenizer.model"));
        File.Delete(Path.Combine(_dir, "tokenizer.json"));
        Assert.Contains("tokenizer.model", Assert.Throws<CheckpointException>(() => PaliGemmaModel.Load(_dir)).Message, StringComparison.Ordinal);
        File.Delete(Path.Combine(_dir, "config.json"));
        Assert.Contains("config.json", Assert.Throws<CheckpointException>(() => PaliGemmaModel.Load(_dir)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Head_count_mismatch_is_named()
    {
        EditConfig(c => c["text_config"]!["num_key_value_heads"] = 4);
        var ex = Assert.Throws<CheckpointException>(() => PaliGemmaModel.Load(_dir));
        Assert.Contains("key/value heads", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Vocab_mismatch_is_named()
    {
        EditConfig(c =>
        {
            c["vocab_size"] = 1000;
            c["text_config"]!["vocab_size"] = 1000;
        });
        var ex = Assert.Throws<CheckpointException>(() => PaliGemmaModel.Load(_dir));
        Assert.Contains("vocab_size", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Layer_count_mismatch_names_the_missing_io()
    {
        EditConfig(c => c["text_config"]!["num_hidden_layers"] = 3);
        var ex = Assert.Throws<CheckpointException>(() => PaliGemmaModel.Load(_dir));
        Assert.Contains("past_key_values.2.key", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Swapped_graph_is_refused()
    {
        File.Copy(Path.Combine(_dir, "embed_tokens.onnx"), Path.Combine(_dir, "decoder_model_merged.onnx"), overwrite: true);
        var ex = Assert.Throws<CheckpointException>(() => PaliGemmaModel.Load(_dir));
        Assert.Contains("inputs_embeds", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Corrupt_graph_is_refused()
    {
        File.WriteAllText(Path.Combine(_dir, "vision_encoder.onnx"), "not a model");
        var ex = Assert.Throws<CheckpointException>(() => PaliGemmaModel.Load(_dir));
        Assert.Contains("vision_encoder", ex.Message, StringComparison.Ordinal);
    }

    private void EditConfig(Action<JsonNode> edit)
    {
        var path = Path.Combine(_dir, "config.json");
        var node = JsonNode.Parse(File.ReadAllText(path))!;
        edit(node);
        File.WriteAllText(path, node.ToJsonString());
    }
}
