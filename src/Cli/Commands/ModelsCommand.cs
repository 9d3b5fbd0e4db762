using System.CommandLine;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using PaliGemma2.DocPipeline.Inference;
using PaliGemma2.DocPipeline.Inference.Serving;
using PaliGemma2.DocPipeline.Pipeline.State;
using Spectre.Console;

namespace PaliGemma2.DocPipeline.Cli.Commands;

/// <summary><c>docpipe models add|list|activate</c>: the checkpoint registry.</summary>
internal static class ModelsCommand
{
    public static Command Create()
    {
        var dir = new Argument<string>("directory") { Description = "Checkpoint directory (DESIGN §5 layout)" };
        var add = new Command("add", "Verify a checkpoint directory and register it") { dir };
        add.SetAction((r, ct) => WithRegistryAsync(async registry =>
        {
            var c = await registry.AddAsync(r.GetValue(dir)!, ct).ConfigureAwait(false);
            AnsiConsole.MarkupLineInterpolated($"Registered [bold]{c.Name} {c.Version}[/] for task {c.Task} ({c.Resolution} px, active: {c.Active}).");
        }, ct));

        var list = new Command("list", "List registered checkpoints");
        list.SetAction((_, ct) => WithRegistryAsync(async registry =>
        {
            var table = new Table().AddColumns("Task", "Name", "Version", "Resolution", "Max tokens", "Post-processor", "Active", "Directory");
            foreach (var c in await registry.ListAsync(ct).ConfigureAwait(false))
            {
                table.AddRow(c.Task, Markup.Escape(c.Name), Markup.Escape(c.Version), $"{c.Resolution}", $"{c.MaxNewTokens}", c.PostProcessor, c.Active ? "yes" : "", Markup.Escape(c.ModelDirectory));
            }

            AnsiConsole.Write(table);
        }, ct));

        var name = new Argument<string>("name");
        var version = new Argument<string>("version");
        var activate = new Command("activate", "Make a checkpoint its task's active one") { name, version };
        activate.SetAction((r, ct) => WithRegistryAsync(async registry =>
        {
            var c = await registry.ActivateAsync(r.GetValue(name)!, r.GetValue(version)!, ct).ConfigureAwait(false);
            AnsiConsole.MarkupLineInterpolated($"{c.Name} {c.Version} is now the active {c.Task} checkpoint.");
        }, ct));

        return new Command("models", "Checkpoint registry") { add, list, activate };
    }

    private static async Task<int> WithRegistryAsync(Func<CheckpointRegistry, Task> action, CancellationToken ct)
    {
        using var host = EmbeddedHost.Build(runPipeline: false);
        await host.StartAsync(ct).ConfigureAwait(false);
        try
        {
            await using var scope = host.Services.CreateAsyncScope();
            await action(scope.ServiceProvider.GetRequiredService<CheckpointRegistry>()).ConfigureAwait(false);
            return 0;
        }
        catch (Exception ex) when (ex is CheckpointException or CheckpointRegistryException)
        {
            AnsiConsole.MarkupLineInterpolated($"[red]{ex.Message}[/]");
            return 1;
        }
        finally
        {
            await host.StopAsync(CancellationToken.None).ConfigureAwait(false);
        }
    }
}
