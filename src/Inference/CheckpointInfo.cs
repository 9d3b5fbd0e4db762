using System.Text.Json;

namespace PaliGemma2.DocPipeline.Inference;

/// <summary>What a checkpoint directory declares: <c>config.json</c> plus <c>checkpoint.json</c>.</summary>
public sealed record CheckpointInfo
{
    /// <summary>The checkpoint directory.</summary>
    public required string Directory { get; init; }

    /// <summary>Task the checkpoint was fine-tuned for (table, molecule, score, report, ...).</summary>
    public required string Task { get; init; }

    /// <summary>Checkpoint name.</summary>
    public required string Name { get; init; }

    /// <summary>Checkpoint version.</summary>
    public required string Version { get; init; }

    /// <summary>Input resolution R (224 / 448 / 896).</summary>
    public required int Resolution { get; init; }

    /// <summary>Default prompt prefix.</summary>
    public required string PromptPrefix { get; init; }

    /// <summary>Default cap on generated tokens.</summary>
    public required int MaxNewTokens { get; init; }

    /// <summary>Post-processor name (consumed by the task layer).</summary>
    public required string PostProcessor { get; init; }

    /// <summary>How images are fitted to R x R.</summary>
    public required ImageMode ImageMode { get; init; }

    /// <summary>Id of <c>&lt;image&gt;</c>; also the first id that is never emitted.</summary>
    public required int ImageTokenIndex { get; init; }

    /// <summary>Image tokens per image: (R / 14)^2.</summary>
    public required int NumImageTokens { get; init; }

    /// <summary>Decoder width.</summary>
    public required int HiddenSize { get; init; }

    /// <summary>Decoder layers.</summary>
    public required int NumLayers { get; init; }

    /// <summary>Key/value heads.</summary>
    public required int NumKeyValueHeads { get; init; }

    /// <summary>Head dimension.</summary>
    public required int HeadDim { get; init; }

    /// <summary>Rows of the (padded) embedding / logits.</summary>
    public required int VocabSize { get; init; }

    /// <summary>Reads <c>config.json</c> and, when present, <c>checkpoint.json</c>.</summary>
    /// <exception cref="CheckpointException">A file is missing, malformed or inconsistent.</exception>
    public static CheckpointInfo Read(string directory)
    {
        var configPath = Path.Combine(directory, "config.json");
        if (!File.Exists(configPath))
        {
            throw new CheckpointException($"Checkpoint '{directory}' has no config.json.");
        }

        try
        {
            using var config = JsonDocument.Parse(File.ReadAllText(configPath));
            var root = config.RootElement;
            var text = root.TryGetProperty("text_config", out var t) ? t : throw new CheckpointException($"{configPath} has no text_config.");
            var vision = root.TryGetProperty("vision_config", out var v) ? v : throw new CheckpointException($"{configPath} has no vision_config.");
            var modelType = Str(root, "model_type", "");
            if (!string.Equals(modelType, "paligemma", StringComparison.Ordinal))
            {
                throw new CheckpointException($"{configPath}: model_type is '{modelType}', expected 'paligemma'.");
            }

            var hidden = Int(text, "hidden_size", 0);
            var heads = Int(text, "num_attention_heads", 8);
            var imageSize = Int(vision, "image_size", 224);
            var patch = Int(vision, "patch_size", 14);
            var vocab = Int(text, "vocab_size", Int(root, "vocab_size", 257216));

            string task = "unknown", name = Path.GetFileName(Path.TrimEndingDirectorySeparator(directory)), version = "0";
            string prefix = string.Empty, post = "none";
            int resolution = imageSize, maxNew = 256;
            var mode = ImageMode.Resize;
            var checkpointPath = Path.Combine(directory, "checkpoint.json");
            if (File.Exists(checkpointPath))
            {
                using var cp = JsonDocument.Parse(File.ReadAllText(checkpointPath));
                var c = cp.RootElement;
                task = Str(c, "task", task);
                name = Str(c, "name", name);
                version = Str(c, "version", version);
                resolution = Int(c, "resolution", resolution);
                prefix = Str(c, "prompt_prefix", prefix);
                maxNew = Int(c, "max_new_tokens", maxNew);
                post = Str(c, "post_processor", post);
                mode = Str(c, "image_mode", "resize") switch
                {
                    "pad_to_square" => ImageMode.PadToSquare,
                    "resize" => ImageMode.Resize,
                    var other => throw new CheckpointException($"{checkpointPath}: image_mode '{other}' is not 'pad_to_square' or 'resize'."),
                };
            }

            if (resolution != imageSize)
            {
                throw new CheckpointException($"checkpoint.json says resolution {resolution} but config.json vision_config.image_size is {imageSize}.");
            }

            if (hidden <= 0)
            {
                throw new CheckpointException($"{configPath}: text_config.hidden_size is missing.");
            }

            return new CheckpointInfo
            {
                Directory = directory,
                Task = task,
                Name = name,
                Version = version,
                Resolution = resolution,
                PromptPrefix = prefix,
                MaxNewTokens = maxNew,
                PostProcessor = post,
                ImageMode = mode,
                ImageTokenIndex = Int(root, "image_token_index", 257152),
                NumImageTokens = (imageSize / patch) * (imageSize / patch),
                HiddenSize = hidden,
                NumLayers = Int(text, "num_hidden_layers", 0),
                NumKeyValueHeads = Int(text, "num_key_value_heads", heads),
                HeadDim = Int(text, "head_dim", 256), // Gemma 2's default when a config omits it
                VocabSize = vocab,
            };
        }
        catch (JsonException ex)
        {
            throw new CheckpointException($"Checkpoint '{directory}': a JSON file is malformed: {ex.Message}", ex);
        }
    }

    private static int Int(JsonElement e, string name, int fallback) =>
        e.TryGetProperty(name, out var p) && p.ValueKind == JsonValueKind.Number ? p.GetInt32() : fallback;

    private static string Str(JsonElement e, string name, string fallback) =>
        e.TryGetProperty(name, out var p) && p.ValueKind == JsonValueKind.String ? p.GetString() ?? fallback : fallback;
}
