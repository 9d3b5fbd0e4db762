using System.Security.Cryptography;
using Microsoft.EntityFrameworkCore;
using PaliGemma2.DocPipeline.Contracts;
using PaliGemma2.DocPipeline.Storage;
using PaliGemma2.DocPipeline.Storage.Entities;

namespace PaliGemma2.DocPipeline.Pipeline.State;

/// <summary>The <c>checkpoints</c> table: verified model directories, one active per task.</summary>
public sealed class CheckpointRegistry(DocPipelineDbContext db)
{
    /// <summary>
    /// Records a checkpoint whose directory was verified by loading it (<c>Inference.Serving.CheckpointVerification</c>):
    /// <paramref name="verified"/> carries what the directory declares and its <see cref="HashDirectoryAsync"/> hash; the id
    /// and the active flag are set here. The first checkpoint of a task becomes active; the same name and version
    /// again is the row already there when the files are the same, and refused when they are not.
    /// </summary>
    /// <exception cref="CheckpointRegistryException">The task is not an inference task, or the name and version are taken by other files.</exception>
    public async Task<Checkpoint> RecordAsync(Checkpoint verified, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(verified);
        if (!TaskNames.Inference.Contains(verified.Task))
        {
            throw new CheckpointRegistryException($"checkpoint.json names task '{verified.Task}'; expected one of {string.Join(", ", TaskNames.Inference)}.");
        }

        var existing = await db.Checkpoints.FirstOrDefaultAsync(c => c.Name == verified.Name && c.Version == verified.Version, cancellationToken).ConfigureAwait(false);
        if (existing is not null)
        {
            return existing.Sha256 == verified.Sha256
                ? existing
                : throw new CheckpointRegistryException($"{verified.Name} {verified.Version} is already registered with different files; give the new export another version.");
        }

        verified.Id = Guid.CreateVersion7();
        verified.Active = !await db.Checkpoints.AnyAsync(c => c.Task == verified.Task && c.Active, cancellationToken).ConfigureAwait(false);
        db.Checkpoints.Add(verified);
        await db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
        return verified;
    }

    /// <summary>All registered checkpoints, by task then name and version.</summary>
    public Task<List<Checkpoint>> ListAsync(CancellationToken cancellationToken) =>
        db.Checkpoints.AsNoTracking().OrderBy(c => c.Task).ThenBy(c => c.Name).ThenBy(c => c.Version).ToListAsync(cancellationToken);

    /// <summary>Makes one checkpoint its task's only active one.</summary>
    /// <exception cref="CheckpointRegistryException">No such checkpoint is registered.</exception>
    public async Task<Checkpoint> ActivateAsync(string name, string version, CancellationToken cancellationToken)
    {
        var target = await db.Checkpoints.FirstOrDefaultAsync(c => c.Name == name && c.Version == version, cancellationToken).ConfigureAwait(false)
            ?? throw new CheckpointRegistryException($"No checkpoint {name} {version} is registered.");
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
