using PaliGemma2.DocPipeline.Pipeline.State;
using PaliGemma2.DocPipeline.Storage.Entities;

namespace PaliGemma2.DocPipeline.Inference.Serving;

/// <summary>
/// Registering a checkpoint loads it with ONNX Runtime, so it lives here; the registry itself (reads, activation,
/// the active checkpoint preparation renders for) is database work in the Pipeline library.
/// </summary>
public static class CheckpointVerification
{
    /// <summary>
    /// Verifies a checkpoint directory by loading it (graph inputs and outputs against config.json,
    /// tokenizer ids) and records it with a hash over its files. The first checkpoint of a task becomes active.
    /// </summary>
    /// <param name="registry">The registry the checkpoint is recorded in.</param>
    /// <param name="directory">The checkpoint directory.</param>
    /// <param name="cancellationToken">Cancels hashing and the database work.</param>
    /// <exception cref="CheckpointException">The directory is not a usable checkpoint.</exception>
    /// <exception cref="CheckpointRegistryException">The registry refuses it (see <see cref="CheckpointRegistry.RecordAsync"/>).</exception>
    public static async Task<Checkpoint> AddAsync(this CheckpointRegistry registry, string directory, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(registry);
        var full = Path.GetFullPath(directory);
        CheckpointInfo info;
        using (var model = PaliGemmaModel.Load(full, options: new PaliGemmaLoadOptions { PreferCuda = false }))
        {
            info = model.Info;
        }

        return await registry.RecordAsync(new Checkpoint
        {
            Task = info.Task,
            Name = info.Name,
            Version = info.Version,
            Resolution = info.Resolution,
            ModelDirectory = full,
            Sha256 = await CheckpointRegistry.HashDirectoryAsync(full, cancellationToken).ConfigureAwait(false),
            PromptPrefix = info.PromptPrefix,
            MaxNewTokens = info.MaxNewTokens,
            PostProcessor = info.PostProcessor,
        }, cancellationToken).ConfigureAwait(false);
    }
}
