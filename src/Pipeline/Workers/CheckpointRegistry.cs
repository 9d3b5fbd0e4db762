using System.Security.Cryptography;
using Microsoft.EntityFrameworkCore;
using PaliGemma2.DocPipeline.Contracts;
using PaliGemma2.DocPipeline.Inference;
using PaliGemma2.DocPipeline.Storage;
using PaliGemma2.DocPipeline.Storage.Entities;

namespace PaliGemma2.DocPipeline.Pipeline.Workers;

/// <summary>The <c>checkpoints</c> table: verified model directories, one active per task.</summary>
public sealed class CheckpointRegistry(DocPipelineDbContext db)
{
    /// <summary>
    /// Verifies a checkpoint directory by loading it (graph inputs and outputs against config.json,
    /// tokenizer ids) and records it with a hash over its files. The first checkpoint of a task becomes active.
    /// </summary>
    /// <exception cref="CheckpointException">The directory is not a usable checkpoint.</exception>
    public async Task<Checkpoint> AddAsync(string directory, CancellationToken cancellationToken)
    {
        var full = Path.GetFullPath(directory);
        CheckpointInfo info;
        using (var model = PaliGemmaModel.Load(full, options: new PaliGemmaLoadOptions { PreferCuda = false }))
        {
            info = model.Info;
        }

        if (!TaskNames.Inference.Contains(info.Task))
        {
            throw new CheckpointException($"checkpoint.json names task '{info.Task}'; expected one of {string.Join(", ", TaskNames.Inference)}.");
        }

        var existing = await db.Checkpoints.FirstOrDefaultAsync(c => c.Name == info.Name && c.Version == info.Version, cancellationToken).ConfigureAwait(false);
        var hash = await HashDirectoryAsync(full, cancellationToken).ConfigureAwait(false);
        if (existing is not null)
        {
            return existing.Sha256 == hash
                ? existing
                : throw new CheckpointException($"{info.Name} {info.Version} is already registered with different files; give the new export another version.");
        }

        var hasActive = await db.Checkpoints.AnyAsync(c => c.Task == info.Task && c.Active, cancellationToken).ConfigureAwait(false);
        var row = new Checkpoint
        {
            Id = Guid.CreateVersion7(),
            Task = info.Task,
            Name = info.Name,
            Version = info.Version,
            Resolution = info.Resolution,
            ModelDirectory = full,
            Sha256 = hash,
            PromptPrefix = info.PromptPrefix,
            MaxNewTokens = info.MaxNewTokens,
            PostProcessor = info.PostProcessor,
            Active = !hasActive,
        };
        db.Checkpoints.Add(row);
        await db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
        return row;
    }

    /// <summary>All registered checkpoints, by task then name and version.</summary>
    public Task<List<Checkpoint>> ListAsync(CancellationToken cancellationToken) =>
        db.Checkpoints.AsNoTracking().OrderBy(c => c.Task).ThenBy(c => c.Name).ThenBy(c => c.Version).ToListAsync(cancellationToken);

    /// <summary>Makes one checkpoint its task's only active one.</summary>
    public async Task<Checkpoint> ActivateAsync(string name, string version, CancellationToken cancellationToken)
    {
        var target = await db.Checkpoints.FirstOrDefaultAsync(c => c.Name == name && c.Version == version, cancellationToken).ConfigureAwait(false)
            ?? throw new CheckpointException($"No checkpoint {name} {version} is registered.");
        foreach (var c in await db.Checkpoints.Where(c => c.Task == target.Task && c.Active).ToListAsync(cancellationToken).ConfigureAwait(false))
        {
            c.Active = false;
        }

        target.Active = true;
        await db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
        return target;
    }

    /// <summary>The task's active checkpoint, if any.</summary>
    public Task<Checkpoint?> ActiveAsync(string task, CancellationToken cancellationToken) =>
        db.Checkpoints.AsNoTracking().FirstOrDefaultAsync(c => c.Task == task && c.Active, cancellationToken);

    /// <summary>SHA-256 over every file's relative path and bytes, in ordinal path order (symlinks followed).</summary>
    public static async Task<string> HashDirectoryAsync(string directory, CancellationToken cancellationToken)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var file in Directory.EnumerateFiles(directory, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            hash.AppendData(System.Text.Encoding.UTF8.GetBytes(Path.GetRelativePath(directory, file) + "\0"));
            var stream = File.OpenRead(file);
            await using (stream.ConfigureAwait(false))
            {
                hash.AppendData(await SHA256.HashDataAsync(stream, cancellationToken).ConfigureAwait(false));
            }
        }

        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }
}
