using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using PaliGemma2.DocPipeline.Contracts;

namespace PaliGemma2.DocPipeline.Pipeline.Intake;

/// <summary>
/// Watches <c>inbox/&lt;task&gt;/</c>. A file is taken once its size and modification time have not
/// changed for <see cref="IntakeOptions.StableFor"/> (writers that rename into the folder are taken
/// at the next scan). Dot-files and <c>.tmp</c>/<c>.part</c> names are left alone: that is where
/// writers stage. Polling rather than inotify, so shared volumes (NFS, SMB) behave the same.
/// </summary>
public sealed class DropFolderWatcher(
    IServiceScopeFactory scopes, IOptions<IntakeOptions> options, IHostApplicationLifetime lifetime, TimeProvider time, ILogger<DropFolderWatcher> logger)
    : BackgroundService
{
    private readonly Dictionary<string, (long Size, DateTime Modified, DateTimeOffset Since)> _seen = new(StringComparer.Ordinal);

    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var root = Path.GetFullPath(options.Value.DropFolder!);
        foreach (var task in TaskNames.Inference.Append(TaskNames.Auto))
        {
            Directory.CreateDirectory(Path.Combine(root, task));
        }

        // Take files only once the bus is up and this process's queues are bound: an event published
        // before that could find no queue and wait for the stalled-document sweeper.
        await WhenStartedAsync(stoppingToken).ConfigureAwait(false);
        logger.LogInformation("Watching drop folder {Root}", root);
        using var timer = new PeriodicTimer(options.Value.PollInterval, time);
        do
        {
            try
            {
                await ScanAsync(root, stoppingToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                logger.LogError(ex, "Drop folder scan failed; retrying at the next tick");
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
    }

    private async Task WhenStartedAsync(CancellationToken stoppingToken)
    {
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var onStarted = lifetime.ApplicationStarted.Register(() => started.TrySetResult());
        using var onStopping = stoppingToken.Register(() => started.TrySetCanceled(stoppingToken));
        await started.Task.ConfigureAwait(false);
    }

    /// <summary>One scan: take every stable file.</summary>
    public async Task ScanAsync(string root, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var present = new HashSet<string>(StringComparer.Ordinal);
        foreach (var task in TaskNames.Inference.Append(TaskNames.Auto))
        {
            var folder = Path.Combine(root, task);
            if (!Directory.Exists(folder))
            {
                continue;
            }

            foreach (var file in new DirectoryInfo(folder).EnumerateFiles())
            {
                if (IsStaging(file.Name))
                {
                    continue;
                }

                present.Add(file.FullName);
                var state = (file.Length, file.LastWriteTimeUtc);
                if (!_seen.TryGetValue(file.FullName, out var prev) || (prev.Size, prev.Modified) != state)
                {
                    _seen[file.FullName] = (file.Length, file.LastWriteTimeUtc, now);
                    continue;
                }

                if (now - prev.Since < options.Value.StableFor)
                {
                    continue;
                }

                if (await TakeAsync(file.FullName, task, cancellationToken).ConfigureAwait(false))
                {
                    _seen.Remove(file.FullName);
                }
            }
        }

        foreach (var gone in _seen.Keys.Where(k => !present.Contains(k)).ToList())
        {
            _seen.Remove(gone);
        }
    }

    private async Task<bool> TakeAsync(string path, string task, CancellationToken cancellationToken)
    {
        try
        {
            await using var scope = scopes.CreateAsyncScope();
            var intake = scope.ServiceProvider.GetRequiredService<DocumentIntake>();
            var result = await intake.IngestFileAsync(path, move: true, task, Sources.Folder, fileName: null, cancellationToken).ConfigureAwait(false);
            logger.LogInformation("Drop folder file taken as document {DocumentId} (new: {Created})", result.DocumentId, result.Created);
            return true;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Still being written under another name, or vanished: try again at the next scan.
            // The exception text holds the path, and file names can carry patient names: log the type only.
            logger.LogWarning("Drop folder file in {Task} could not be taken yet ({Error})", task, ex.GetType().Name);
            return false;
        }
    }

    private static bool IsStaging(string name) =>
        name.StartsWith('.') || name.EndsWith(".tmp", StringComparison.OrdinalIgnoreCase)
        || name.EndsWith(".part", StringComparison.OrdinalIgnoreCase) || name.EndsWith(".partial", StringComparison.OrdinalIgnoreCase);
}
