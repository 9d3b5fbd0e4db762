using System.CommandLine;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using PaliGemma2.DocPipeline.Pipeline.Hosting;
using PaliGemma2.DocPipeline.Pipeline.State;

namespace PaliGemma2.DocPipeline.Cli.Commands;

/// <summary>
/// <c>docpipe replay --id &lt;job or document&gt; | --task &lt;task&gt; | --reason &lt;text&gt;</c>: after a fix, failed jobs
/// go back to their inference queue and documents that failed preparation are announced again, on the
/// deployment's broker (<c>Pipeline__Transport=RabbitMq</c>, <c>ConnectionStrings__RabbitMq</c>, and its database).
/// </summary>
internal static class ReplayCommand
{
    public static Command Create()
    {
        var ids = new Option<Guid[]>("--id") { Description = "Failed job or document id (repeatable)", AllowMultipleArgumentsPerToken = true };
        var task = new Option<string?>("--task") { Description = "Only failures of this task" };
        var reason = new Option<string?>("--reason") { Description = "Only failures whose error contains this text" };
        var command = new Command("replay", "Re-queue failed jobs and documents (by id, task or reason) on a distributed deployment") { ids, task, reason };
        command.SetAction((r, ct) => RunAsync(new ReplaySelection { Ids = r.GetValue(ids) ?? [], Task = r.GetValue(task), Reason = r.GetValue(reason) }, ct));
        return command;
    }

    private static async Task<int> RunAsync(ReplaySelection selection, CancellationToken ct)
    {
        if (selection.IsEmpty)
        {
            await Console.Error.WriteLineAsync("replay: give --id, --task or --reason (replaying every failure needs an explicit filter).").ConfigureAwait(false);
            return 2;
        }

        using var host = EmbeddedHost.Build(runPipeline: false);
        var transport = host.Services.GetRequiredService<IConfiguration>().GetSection(PipelineOptions.Section).Get<PipelineOptions>()?.Transport;
        if (transport != Transport.RabbitMq)
        {
            await Console.Error.WriteLineAsync("replay: needs the deployment's broker; set Pipeline__Transport=RabbitMq, ConnectionStrings__RabbitMq, Storage__Provider and its connection string.")
                .ConfigureAwait(false);
            return 2;
        }

        await host.StartAsync(ct).ConfigureAwait(false);
        await using (var scope = host.Services.CreateAsyncScope())
        {
            var outcome = await scope.ServiceProvider.GetRequiredService<Replayer>().ReplayAsync(selection, ct).ConfigureAwait(false);
            Console.WriteLine($"Re-queued {outcome.Jobs} job(s) and {outcome.Documents} document(s).");
        }

        await host.StopAsync(CancellationToken.None).ConfigureAwait(false);
        return 0;
    }
}
